"""Daily steps and other timed messages: what a due item says, and what its buttons do.

The scheduler claims a due item (``core.storage.deliveries.Claimed``) and asks
:meth:`NudgeDesk.render` for the message; ``None`` means "do not send", with a reason to
record. The buttons under a nudge carry everything they need (``n:<verb>[:<action>]``), so,
like the safety buttons, they work from any old message, in any state, without touching
the conversation a person is in.

The morning micro-actions are a small set of Mend's own (the full catalogue arrives with
the repair programme): first "stop making it worse", then early, low-pressure connection.
Each person walks their own shuffled order, one a day, so a resend on the same local day
shows the same step and two days in a row never show the same one.
"""

from __future__ import annotations

import functools
import hashlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time
from enum import StrEnum

from core import keys
from core.content import Content, ContentError
from core.localtime import format_local_time
from core.profile import Profile, Situation
from core.safety.mode import Offer, may_offer
from core.schedule.kinds import ItemKind
from core.schedule.local_time import SPREAD, next_due, spread_offset
from core.service.rituals import WEEKLY_BUTTON
from core.storage.deliveries import Claimed
from core.storage.subscriptions import person_key
from core.timezones import resolve_timezone
from core.types import Button, Reply, UserRef

__all__ = [
    "MICRO_ACTIONS",
    "PREFIX",
    "MicroAction",
    "NudgeDesk",
    "NudgePress",
    "NudgeVerb",
    "Rendered",
    "SkipReason",
    "actions_for",
    "decode_press",
    "encode_press",
    "other_action",
    "pick_action",
]

PREFIX = "n"
"""Payload prefix of nudge buttons: ``n:<verb>`` or ``n:<verb>:<action id>``."""

_DEFAULT_DAILY_TIME = time(9, 0)
"""What the subscription uses when no time is chosen (``SubscriptionRepository.follow``)."""


class NudgeVerb(StrEnum):
    """What a nudge button asks for."""

    DONE = "done"
    """The morning step is done."""
    SKIP = "skip"
    """Not today."""
    SWAP = "swap"
    """A different step, please."""
    KEPT = "kept"
    """Evening follow-up: yes, it happened."""
    NOT_TODAY = "not_today"
    """Evening follow-up: not today."""


_ABOUT_AN_ACTION = frozenset({NudgeVerb.DONE, NudgeVerb.SKIP, NudgeVerb.SWAP})


@dataclass(frozen=True, slots=True)
class MicroAction:
    """One small daily step.

    Attributes:
        id: stable identifier, carried in button payloads (keep it short and never reuse
            it for a different step).
        together_only: True for steps done with or for a partner one lives with; people
            on a break or separated never get them.
    """

    id: str
    together_only: bool = False

    @property
    def key(self) -> str:
        """The content key of its text."""
        return f"nudges.action.{self.id}"


MICRO_ACTIONS: tuple[MicroAction, ...] = (
    # Stop making it worse: fits anyone, whatever their situation.
    MicroAction("no_defend"),
    MicroAction("no_blame"),
    MicroAction("no_late_message"),
    MicroAction("no_audience"),
    MicroAction("give_space"),
    MicroAction("slow_breath"),
    MicroAction("own_it"),
    MicroAction("get_curious"),
    MicroAction("steady_yourself"),
    # Early, low-pressure connection: for people still together.
    MicroAction("keep_a_promise", together_only=True),
    MicroAction("appreciate", together_only=True),
    MicroAction("listen_ten", together_only=True),
    MicroAction("quiet_help", together_only=True),
    MicroAction("easier_evening", together_only=True),
)
"""The daily micro-actions, until the repair programme brings its catalogue."""

_BY_ID = {action.id: action for action in MICRO_ACTIONS}
_APART = frozenset({Situation.ON_A_BREAK, Situation.SEPARATED})


@dataclass(frozen=True, slots=True)
class NudgePress:
    """A decoded nudge button press.

    Attributes:
        verb: what was asked for.
        action: the micro-action the button was under, for done, skip and swap.
    """

    verb: NudgeVerb
    action: str | None = None


def encode_press(verb: NudgeVerb, action: str | None = None) -> str:
    """The payload a nudge button carries (at most about 30 bytes)."""
    return f"{PREFIX}:{verb.value}" if action is None else f"{PREFIX}:{verb.value}:{action}"


def decode_press(payload: str) -> NudgePress | None:
    """Read a nudge payload, or None when ``payload`` is not a well-formed one."""
    parts = payload.split(":")
    if len(parts) not in (2, 3) or parts[0] != PREFIX:
        return None
    try:
        verb = NudgeVerb(parts[1])
    except ValueError:
        return None
    if verb in _ABOUT_AN_ACTION:
        if len(parts) != 3 or parts[2] not in _BY_ID:
            return None
        return NudgePress(verb, parts[2])
    return NudgePress(verb) if len(parts) == 2 else None


def actions_for(profile: Profile) -> tuple[MicroAction, ...]:
    """The micro-actions that fit a person's situation."""
    if profile.situation in _APART:
        return tuple(a for a in MICRO_ACTIONS if not a.together_only)
    return MICRO_ACTIONS


def _rank(seed: str, action: MicroAction) -> bytes:
    return hashlib.blake2b(f"{seed}:{action.id}".encode(), digest_size=8).digest()


@functools.cache
def _entropy_bytes(size: int) -> int:
    """Bytes of hash enough to shuffle ``size`` steps uniformly (log2(size!) + 64 bits)."""
    return (math.ceil(math.lgamma(size + 1) / math.log(2)) + 64 + 7) // 8


def _entropy(seed: str, size: int) -> int:
    """A stable pseudo-random integer of at least ``_entropy_bytes(size)`` bytes for ``seed``."""
    need = _entropy_bytes(size)
    data = seed.encode()
    if need <= hashlib.blake2b.MAX_DIGEST_SIZE:
        return int.from_bytes(hashlib.blake2b(data, digest_size=need).digest(), "big")
    blocks = (need + hashlib.blake2b.MAX_DIGEST_SIZE - 1) // hashlib.blake2b.MAX_DIGEST_SIZE
    joined = b"".join(
        hashlib.blake2b(data, salt=n.to_bytes(8, "big")).digest() for n in range(blocks)
    )
    return int.from_bytes(joined, "big")


def _order(pool: Sequence[MicroAction], person: str, cycle: int) -> list[MicroAction]:
    """The pool shuffled for one person and cycle: one digest, read as a Fisher-Yates walk.

    The digest is a number with at least 64 bits more than ``len(pool)!`` needs, so taking
    its digits in the mixed radix ``len(pool), len(pool) - 1, …`` picks every ordering of
    the pool (as given) with practically equal chance, at one hash per person and cycle
    instead of one per step.
    """
    order = list(pool)
    number = _entropy(f"{person}:{cycle}", len(order))
    for last in range(len(order) - 1, 0, -1):
        number, other = divmod(number, last + 1)
        order[last], order[other] = order[other], order[last]
    return order


def pick_action(pool: Sequence[MicroAction], person: str, day: date) -> MicroAction:
    """The step for ``person`` on local ``day``: the same on every call, never yesterday's.

    Days run through the pool in cycles, each cycle in its own shuffled order per person,
    so every step comes once before any comes again. When a new cycle would open with the
    step the last one ended on, its first two swap places.
    """
    if not pool:
        raise ValueError("no micro-actions to pick from")
    size = len(pool)
    cycle, index = divmod(day.toordinal(), size)
    order = _order(pool, person, cycle)
    # Only the first two places of a cycle can be touched by the swap below.
    if size >= 3 and index < 2 and order[0] == _order(pool, person, cycle - 1)[-1]:
        order[0], order[1] = order[1], order[0]
    return order[index]


def other_action(pool: Sequence[MicroAction], person: str, day: date, current: str) -> MicroAction:
    """A different step than ``current`` for a swap, steering clear of today's own pick.

    The same press gives the same answer, so a double tap cannot flicker between steps.
    Only a pool of one can give ``current`` back.
    """
    today = pick_action(pool, person, day).id
    choices = (
        [a for a in pool if a.id not in (current, today)]
        or [a for a in pool if a.id != current]
        or list(pool)
    )
    seed = f"{person}:{day.isoformat()}:{current}"
    return min(choices, key=lambda action: _rank(seed, action))


class SkipReason(StrEnum):
    """Why a due item is not sent."""

    NO_PERSON = "no_person"
    """A personal nudge whose person is gone."""
    NOT_ONBOARDED = "not_onboarded"
    STOPPED = "stopped"
    """They said ``/stop``."""
    UNREACHABLE = "unreachable"
    """The platform refused an earlier send to them; they are told when they next write."""
    SAFETY_MODE = "safety_mode"
    """Safety mode holds every reconnecting nudge."""
    ON_BREAK = "on_break"
    """The couple is on a break (``/pause``)."""
    UNKNOWN_TEXT = "unknown_text"
    """A reminder names a content key that does not exist (any more)."""


@dataclass(frozen=True, slots=True)
class Rendered:
    """What to send for a due item, or why nothing is sent.

    Attributes:
        reply: the message, with its buttons; None means do not send. It carries no
            address: the sender sends it to ``Claimed.chat``, or the person's private chat.
        reason: why nothing is sent, when ``reply`` is None.
    """

    reply: Reply | None
    reason: SkipReason | None = None


CoupleRenderer = Callable[[Claimed, datetime], "Rendered | None"]
"""Renders the couple items it owns (break ends of ``/pause``, notices); None otherwise."""

_STEP_BUTTONS = (
    (keys.NUDGE_BUTTON_DONE, NudgeVerb.DONE),
    (keys.NUDGE_BUTTON_SKIP, NudgeVerb.SKIP),
    (keys.NUDGE_BUTTON_SWAP, NudgeVerb.SWAP),
)
"""The buttons under a daily step, in order: label key and verb."""
_NUDGES = frozenset({ItemKind.MORNING, ItemKind.EVENING, ItemKind.WEEKLY})
_ANSWERS = {
    NudgeVerb.DONE: keys.NUDGE_DONE,
    NudgeVerb.SKIP: keys.NUDGE_SKIPPED,
    NudgeVerb.KEPT: keys.NUDGE_KEPT,
    NudgeVerb.NOT_TODAY: keys.NUDGE_NOT_TODAY,
}


class NudgeDesk:
    """Builds daily steps, check-ins and break ends, and answers their buttons.

    Args:
        content: the loaded content.
        default_timezone: the zone for people who have not chosen one.
        couples: renders the items of couples (a break's way back, notices); the
            service passes its desks. Nudges for someone on a break (``Claimed.on_break``,
            read when the item is claimed) are held.

    Raises:
        ContentError: if a micro-action has no text.
    """

    def __init__(
        self,
        content: Content,
        default_timezone: str,
        *,
        couples: CoupleRenderer | None = None,
    ) -> None:
        self._texts = content.texts
        self._default_timezone = default_timezone
        self._couples = couples
        self._steps: dict[str, tuple[str, tuple[Button, ...]]] = {}
        missing = [a.key for a in MICRO_ACTIONS if a.key not in self._texts.by_key]
        if missing:
            raise ContentError([f"code: text key {key!r} is missing" for key in missing])

    # ------------------------------------------------------------------ timed items

    def render(self, item: Claimed, now: datetime) -> Rendered:
        """The message for a claimed item, or why it must not go out.

        Nudges (morning, evening, weekly) go only to people who are set up, reachable,
        have not said ``/stop``, are not in safety mode and not on a break. A break end
        always goes out (in safety mode as a self-care note, never a nudge back into the
        conversation). A reminder shows the content key in its payload's ``say``. Couple
        items (a break's way back, notices) are rendered by ``couples`` when given.
        """
        if self._couples is not None:
            rendered = self._couples(item, now)
            if rendered is not None:
                return rendered
        profile = item.profile
        if item.kind in _NUDGES:
            reason = self._held(item, profile)
            if reason is not None:
                return Rendered(None, reason)
        someone = profile or Profile(user=UserRef(item.platform, ""))
        if item.kind is ItemKind.MORNING:
            day = _local_date(item.local_date) or self._today(someone, now)
            action = pick_action(actions_for(someone), person_key(someone.user), day)
            return Rendered(self._step(keys.NUDGE_MORNING, someone, action))
        if item.kind is ItemKind.EVENING:
            buttons = (
                (keys.NUDGE_BUTTON_KEPT, encode_press(NudgeVerb.KEPT)),
                (keys.NUDGE_BUTTON_NOT_TODAY, encode_press(NudgeVerb.NOT_TODAY)),
            )
            return Rendered(self._say(keys.NUDGE_EVENING, someone, buttons=buttons))
        if item.kind is ItemKind.WEEKLY:
            return Rendered(self._say(keys.NUDGE_WEEKLY, someone, buttons=(WEEKLY_BUTTON,)))
        if item.kind is ItemKind.BREAK_END:
            if profile is not None and not may_offer(profile, Offer.COUPLE_EXERCISE):
                return Rendered(self._say(keys.NUDGE_BREAK_END_SELF_CARE, profile))
            return Rendered(self._say(keys.NUDGE_BREAK_END, someone))
        key = item.payload.get("say", "")
        if key not in self._texts.by_key:
            return Rendered(None, SkipReason.UNKNOWN_TEXT)
        return Rendered(self._say(key, someone))

    def _held(self, item: Claimed, profile: Profile | None) -> SkipReason | None:
        if profile is None:
            return SkipReason.NO_PERSON
        if not profile.onboarded:
            return SkipReason.NOT_ONBOARDED
        if profile.nudges_stopped:
            return SkipReason.STOPPED
        if profile.unreachable_since is not None:
            return SkipReason.UNREACHABLE
        if not may_offer(profile, Offer.RECONNECT_NUDGE):
            return SkipReason.SAFETY_MODE
        if item.on_break:
            return SkipReason.ON_BREAK
        return None

    # ------------------------------------------------------------------ buttons

    def press(self, press: NudgePress, profile: Profile, now: datetime) -> list[Reply]:
        """The answer to a nudge button; nothing about the person changes."""
        if press.verb is not NudgeVerb.SWAP:
            return [self._say(_ANSWERS[press.verb], profile)]
        if not profile.onboarded:
            return [self._say(keys.NUDGES_NOT_SET_UP, profile)]
        if not may_offer(profile, Offer.RECONNECT_NUDGE):
            return [self._say(keys.NUDGE_HELD, profile)]
        day = self._today(profile, now)
        person = person_key(profile.user)
        action = other_action(actions_for(profile), person, day, press.action or "")
        return [self._step(keys.NUDGE_SWAPPED, profile, action)]

    # ------------------------------------------------------------------ /stop and /resume

    def stop(self, profile: Profile) -> tuple[Reply, Profile]:
        """``/stop``: daily and weekly nudges off; everything else keeps working."""
        if not profile.onboarded:
            return self._say(keys.NUDGES_NOT_SET_UP, profile), profile
        if profile.nudges_stopped and profile.unreachable_since is None:
            return self._say(keys.NUDGES_ALREADY_STOPPED, profile), profile
        stopped = replace(profile, nudges_stopped=True, unreachable_since=None)
        return self._say(keys.NUDGES_STOPPED, stopped), stopped

    def resume(self, profile: Profile, now: datetime) -> tuple[Reply, Profile]:
        """``/resume``: nudges on again (also after a refused delivery), saying when next."""
        if not profile.onboarded:
            return self._say(keys.NUDGES_NOT_SET_UP, profile), profile
        already = not profile.nudges_stopped and profile.unreachable_since is None
        resumed = replace(profile, nudges_stopped=False, unreachable_since=None)
        if resumed.safety_mode:
            return self._say(keys.NUDGES_RESUMED_HELD, resumed), resumed
        key = keys.NUDGES_ALREADY_ON if already else keys.NUDGES_RESUMED
        return self._say(key, resumed, when=self.when_next(resumed, now)), resumed

    def unreachable_notice(self, profile: Profile) -> tuple[Reply, Profile]:
        """Said once when someone a daily step could not reach writes again; nudges stay off."""
        quiet = replace(profile, nudges_stopped=True, unreachable_since=None)
        return self._say(keys.NUDGES_UNREACHABLE, quiet), quiet

    def quiet_note(self, before: Profile, after: Profile) -> Reply | None:
        """A heads-up when a settings change puts the daily time inside quiet hours.

        Only for people already set up: onboarding's time question names the quiet hours
        itself, so the end of set-up stays one clear message.
        """
        at = after.daily_time
        if not (before.onboarded and after.onboarded) or at is None:
            return None
        changed = (before.daily_time, before.quiet) != (at, after.quiet)
        if not changed or not after.quiet.contains(at):
            return None
        return self._say(
            keys.NUDGES_INSIDE_QUIET, after, next_time=format_local_time(after.quiet.end)
        )

    def when_next(self, profile: Profile, now: datetime) -> str:
        """When the next daily step comes, in words: "tomorrow around 07:30".

        Computed exactly as the subscription computes it; the time shown is the chosen
        one (the few minutes of spread are what "around" means) unless quiet hours move it.
        """
        zone = resolve_timezone(profile.timezone or self._default_timezone)
        at = profile.daily_time or _DEFAULT_DAILY_TIME
        offset = spread_offset(person_key(profile.user))
        due = next_due(zone, at, now, offset=offset, quiet=profile.quiet)
        chosen = (due - offset).astimezone(zone)
        if _near(chosen.time(), at):
            shown, day = at, chosen.date()
        else:  # moved by quiet hours or a clock change
            moved = due.astimezone(zone)
            shown, day = moved.time(), moved.date()
        days = (day - now.astimezone(zone).date()).days
        key = {0: keys.NUDGE_WHEN_TODAY, 1: keys.NUDGE_WHEN_TOMORROW}.get(
            days, keys.NUDGE_WHEN_LATER
        )
        values = {"next_time": format_local_time(shown), "next_date": day.isoformat()}
        return self._texts.render(key, values)

    # ------------------------------------------------------------------ helpers

    def _today(self, profile: Profile, now: datetime) -> date:
        zone = resolve_timezone(profile.timezone or self._default_timezone)
        return now.astimezone(zone).date()

    def _step(self, key: str, profile: Profile, action: MicroAction) -> Reply:
        steps = self._steps.get(action.id)
        if steps is None:  # texts and buttons depend on the action alone: made once each
            made = tuple(
                Button(self._texts.render(label), encode_press(verb, action.id))
                for label, verb in _STEP_BUTTONS
            )
            steps = self._steps[action.id] = (self._texts.render(action.key, {}), made)
        text, buttons = steps
        return self._say(key, profile, made=buttons, action=text)

    def _say(
        self,
        key: str,
        profile: Profile,
        *,
        buttons: Sequence[tuple[str, str]] = (),
        made: tuple[Button, ...] = (),
        **extra: str,
    ) -> Reply:
        values = {**profile.placeholders(self._default_timezone), **extra}
        if buttons:
            made = tuple(Button(self._texts.render(label), payload) for label, payload in buttons)
        return Reply(text=self._texts.render(key, values), key=key, buttons=made)


def _local_date(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def _near(first: time, second: time) -> bool:
    """Whether two times of day lie within the spread of each other, across midnight."""
    gap = abs(_seconds(first) - _seconds(second)) % _DAY
    return min(gap, _DAY - gap) <= SPREAD.total_seconds()


def _seconds(value: time) -> int:
    return value.hour * 3600 + value.minute * 60 + value.second


_DAY = 24 * 3600
