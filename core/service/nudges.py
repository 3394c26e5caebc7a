"""Daily steps and other timed messages: what a due item says, and what its buttons do.

The scheduler claims a due item (``core.storage.deliveries.Claimed``) and asks
:meth:`NudgeDesk.render` for the message; ``None`` means "do not send", with a reason to
record. The buttons under a nudge carry everything they need (``n:<verb>[:<action>]``), so,
like the safety buttons, they work from any old message, in any state, without touching
the conversation a person is in.

The morning step comes from the micro-action catalogue (``content.program.actions``)
through the person's stored plan (``core.program.plan``): rendering reads only the
profile, so thousands of mornings render per second with no database access, and a resend
on the same local day is identical. The plan is built and rebuilt in interactive turns
(:meth:`DailySteps.refresh`), which have the database: the action log says what was done,
skipped or swapped.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta, tzinfo
from enum import StrEnum

from sqlalchemy import Connection

from core import keys
from core.content import Content, ContentError
from core.content.program import ActionSpec
from core.localtime import format_local_time
from core.profile import Profile, Situation
from core.program.phases import (
    MIN_DAYS_IN_PHASE,
    STEADY_WINDOW,
    Signals,
    programme_day,
    suggest_next_phase,
    week_of_programme,
)
from core.program.plan import (
    AVOID_DAYS,
    RECENT_DAYS,
    REFILL_BELOW,
    Catalogue,
    Outcome,
    Person,
    Plan,
    Shown,
    build_plan,
    decode_plan,
    decode_recent,
    encode_plan,
    encode_recent,
    fallback_step,
    planned_step,
    swap_for,
)
from core.safety.mode import Offer, may_offer
from core.schedule.kinds import ItemKind
from core.schedule.local_time import SPREAD, next_due, spread_offset
from core.service.courier import Turn
from core.service.rituals import WEEKLY_BUTTON
from core.service.tracking_desk import (
    PROMISE_ASK_PAYLOAD,
    PROMISE_PAYLOAD,
    render_promise_evening,
)
from core.storage.action_log import ActionLogRepository, journal_scores
from core.storage.deliveries import Claimed
from core.storage.subscriptions import person_key
from core.timezones import resolve_timezone
from core.types import Button, Reply, UserRef

__all__ = [
    "PREFIX",
    "SUGGEST_EVERY_DAYS",
    "DailySteps",
    "NudgeDesk",
    "NudgePress",
    "NudgeVerb",
    "Rendered",
    "SkipReason",
    "decode_press",
    "encode_press",
    "phase_move_payload",
]

PREFIX = "n"
"""Payload prefix of nudge buttons: ``n:<verb>`` or ``n:<verb>:<action id>``."""

_DEFAULT_DAILY_TIME = time(9, 0)
"""What the subscription uses when no time is chosen (``SubscriptionRepository.follow``)."""

SUGGEST_EVERY_DAYS = 7
"""After Done, a suggestion to move on comes at most once in this many days."""

_ACTION_ID = re.compile(r"[a-z][a-z0-9_]{0,19}")
"""The shape of a micro-action id (``ActionSpec.id``)."""


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
    """Read a nudge payload, or None when ``payload`` is not a well-formed one.

    Only the shape is checked here; :meth:`NudgeDesk.decode` also checks that the step
    is in the catalogue.
    """
    parts = payload.split(":")
    if len(parts) not in (2, 3) or parts[0] != PREFIX:
        return None
    try:
        verb = NudgeVerb(parts[1])
    except ValueError:
        return None
    if verb in _ABOUT_AN_ACTION:
        if len(parts) != 3 or not _ACTION_ID.fullmatch(parts[2]):
            return None
        return NudgePress(verb, parts[2])
    return NudgePress(verb) if len(parts) == 2 else None


def phase_move_payload(phase: int) -> str:
    """The payload of a "move to phase N" button (answered by the ``/phase`` desk)."""
    return f"ph:set:{phase}"


def _apart(profile: Profile) -> bool:
    return profile.situation in _APART


def _fits(spec: ActionSpec, profile: Profile) -> bool:
    if profile.safety_mode and not spec.self_focused:
        return False
    return spec.mode == "solo" or profile.situation not in _APART


class DailySteps:
    """The catalogue, the plan and the words of daily steps.

    Shared by :class:`NudgeDesk` (mornings and their buttons) and the ``/phase`` desk
    (``/today``, choosing a phase).

    Args:
        content: the loaded content.
        default_timezone: the zone for people who have not chosen one.

    Raises:
        ContentError: if the catalogue is empty, has no self-focused step (all safety
            mode offers), or a step has no text.
    """

    def __init__(self, content: Content, default_timezone: str) -> None:
        self._texts = content.texts
        self._default_timezone = default_timezone
        self.catalogue = Catalogue(content.program.actions)
        self._made: dict[str, tuple[str, str, tuple[Button, ...]]] = {}
        problems = [
            f"code: text key {key!r} is missing"
            for a in self.catalogue.actions
            for key in (a.do_key, a.ask_key)
            if key not in self._texts.by_key
        ]
        if not self.catalogue.actions:
            problems.append("program/actions.yaml: there are no micro-actions")
        elif not any(a.self_focused for a in self.catalogue.actions):
            problems.append("program/actions.yaml: no self-focused step for safety mode")
        if problems:
            raise ContentError(problems)

    # ------------------------------------------------------------------ days and people

    def zone(self, profile: Profile) -> tzinfo:
        """The person's time zone."""
        return resolve_timezone(profile.timezone or self._default_timezone)

    def today(self, profile: Profile, now: datetime) -> date:
        """The person's local date at ``now``."""
        return now.astimezone(self.zone(profile)).date()

    def first_day(self, profile: Profile, today: date) -> date:
        """The local day their programme began (set-up), or ``today`` before set-up."""
        if profile.onboarded_at is None:
            return today
        return min(today, profile.onboarded_at.astimezone(self.zone(profile)).date())

    def person(self, profile: Profile, today: date) -> Person:
        """The facts about ``profile`` the plan follows."""
        return Person(
            key=person_key(profile.user),
            first_day=self.first_day(profile, today).toordinal(),
            phase=profile.phase,
            apart=_apart(profile),
            safe=profile.safety_mode,
        )

    # ------------------------------------------------------------------ which step

    def planned(self, profile: Profile, day: date) -> ActionSpec:
        """The step of local ``day``: a pure function of the stored profile.

        The plan's entry for the day; for a day it does not cover (no plan yet, a step
        since removed, or one that no longer suits the person) a fixed per-person walk
        through their pool (:func:`core.program.plan.fallback_step`).
        """
        ordinal = day.toordinal()
        action = planned_step(profile.plan, ordinal) if profile.plan else None
        if action is None and profile.recent:  # a day before the plan: what it showed then
            action = next(
                (
                    s.action
                    for s in decode_recent(profile.recent)
                    if s.day == ordinal and not s.instead_of
                ),
                None,
            )
        spec = self.catalogue.by_id.get(action) if action is not None else None
        if spec is not None and _fits(spec, profile):
            return spec
        pool = self.catalogue.fallback_pool(
            apart=_apart(profile), safe=profile.safety_mode, phase=profile.phase
        )
        return fallback_step(pool, person_key(profile.user), ordinal)

    def shown_today(self, profile: Profile, now: datetime) -> ActionSpec:
        """Today's step for ``/today``: the last one a swap showed today, else the plan's."""
        today = self.today(profile, now)
        ordinal = today.toordinal()
        swapped = [s for s in decode_recent(profile.recent) if s.day == ordinal and s.instead_of]
        for shown in reversed(swapped):
            spec = self.catalogue.by_id.get(shown.action)
            if spec is not None and _fits(spec, profile):
                return spec
        return self.planned(profile, today)

    # ------------------------------------------------------------------ the plan

    def refresh(
        self, connection: Connection, before: Profile, after: Profile, now: datetime
    ) -> Profile:
        """``after`` with its plan rebuilt when the turn calls for it; else ``after`` itself.

        The service calls this at the end of every turn. A plan is (re)built for someone
        set up when there is none yet (set-up has just finished), when it was built for
        another phase, situation (together or apart) or safety mode than theirs now,
        however that changed, and when fewer than
        :data:`~core.program.plan.REFILL_BELOW` days are left. ``before`` is the profile
        as the turn found it: a plan the turn already rebuilt passes these checks.
        """
        if not after.onboarded:
            return after
        plan = decode_plan(after.plan)
        today = self.today(after, now)
        fresh = (
            before.onboarded
            and plan.basis == self.person(after, today).basis
            and plan.days_left(today.toordinal()) >= REFILL_BELOW
        )
        return after if fresh else self.rebuild(connection, after, now)

    def rebuild(self, connection: Connection, profile: Profile, now: datetime) -> Profile:
        """``profile`` with a new plan from today (today's step stays as it was)."""
        today = self.today(profile, now)
        person = self.person(profile, today)
        log = ActionLogRepository(connection).since(
            profile.user, today - timedelta(days=AVOID_DAYS)
        )
        plan, recent = build_plan(
            person,
            today.toordinal(),
            self.catalogue,
            self._plan_so_far(profile, person, today),
            decode_recent(profile.recent),
            log,
        )
        return replace(profile, plan=encode_plan(plan), recent=encode_recent(recent))

    def _plan_so_far(self, profile: Profile, person: Person, today: date) -> Plan:
        """The stored plan; for someone without one, the steps the fallback showed them."""
        plan = decode_plan(profile.plan)
        if plan.ids or profile.onboarded_at is None:
            return plan
        first = max(person.first_day, today.toordinal() - RECENT_DAYS)
        ids = tuple(
            self.planned(profile, date.fromordinal(day)).id
            for day in range(first, today.toordinal() + 1)
        )
        return Plan(first, ids)

    def swap(
        self, connection: Connection, profile: Profile, current: str, now: datetime
    ) -> tuple[ActionSpec, Profile]:
        """Another step instead of ``current``, and the profile with the swap remembered.

        The same swap pressed again gives the same step and changes nothing more.
        """
        today = self.today(profile, now)
        ordinal = today.toordinal()
        recent = decode_recent(profile.recent)
        again = next((s for s in recent if s.day == ordinal and s.instead_of == current), None)
        if again is not None and again.action in self.catalogue.by_id:
            return self.catalogue.by_id[again.action], profile
        repository = ActionLogRepository(connection)
        person = self.person(profile, today)
        log = repository.since(profile.user, today - timedelta(days=AVOID_DAYS))
        plan = self._plan_so_far(profile, person, today)
        spec = swap_for(person, ordinal, self.catalogue, plan, recent, log, current)
        if spec is None:  # an empty catalogue is refused at start; never reached
            spec = self.planned(profile, today)
        repository.record(profile.user, today, current, Outcome.SWAPPED, now)
        remembered = replace(
            profile, recent=encode_recent((*recent, Shown(ordinal, spec.id, current)))
        )
        return spec, self.rebuild(connection, remembered, now)

    def record(
        self, connection: Connection, profile: Profile, action: str, outcome: Outcome, now: datetime
    ) -> bool:
        """Note what they did with a step, on their local date; False if already noted."""
        return ActionLogRepository(connection).record(
            profile.user, self.today(profile, now), action, outcome, now
        )

    # ------------------------------------------------------------------ moving on

    def suggestion(self, connection: Connection, profile: Profile, now: datetime) -> int | None:
        """The phase their check-ins suggest moving on to, or None.

        Never in safety mode. Reads the action log and, when there are any, their weekly
        reflection scores (:func:`core.program.phases.suggest_next_phase`).
        """
        if profile.onboarded_at is None or profile.safety_mode:
            return None
        zone = self.zone(profile)
        today = now.astimezone(zone).date()
        entered = (profile.phase_since or profile.onboarded_at).astimezone(zone).date()
        days_in_phase = max(0, (today - entered).days)
        signals = Signals(
            phase=profile.phase,
            days_in_phase=days_in_phase,
            programme_day=programme_day(self.first_day(profile, today), today),
        )
        if (
            days_in_phase < MIN_DAYS_IN_PHASE
            or suggest_next_phase(replace(signals, done_days=STEADY_WINDOW, scores=(10, 10)))
            is None
        ):
            return None  # not possible whatever the check-ins say: no query needed
        window = min(STEADY_WINDOW, days_in_phase)
        done = ActionLogRepository(connection).done_days(
            profile.user, today - timedelta(days=window - 1)
        )
        since = profile.phase_since or profile.onboarded_at
        scores = journal_scores(connection, profile.user, since)
        return suggest_next_phase(replace(signals, done_days=done, scores=scores))

    # ------------------------------------------------------------------ words

    def step(self, key: str, profile: Profile, spec: ActionSpec) -> Reply:
        """A message showing ``spec`` (its text as ``$action``) with Done, Skip and Swap."""
        text, _ask, buttons = self._words(spec)
        values = {**profile.placeholders(self._default_timezone), "action": text}
        return Reply(text=self._texts.render(key, values), key=key, buttons=buttons)

    def ask(self, spec: ActionSpec) -> str:
        """The step's follow-up question."""
        return self._words(spec)[1]

    def _words(self, spec: ActionSpec) -> tuple[str, str, tuple[Button, ...]]:
        made = self._made.get(spec.id)
        if made is None:  # texts and buttons depend on the step alone: made once each
            buttons = tuple(
                Button(self._texts.render(label), encode_press(verb, spec.id))
                for label, verb in _STEP_BUTTONS
            )
            made = self._made[spec.id] = (
                self._texts.render(spec.do_key),
                self._texts.render(spec.ask_key),
                buttons,
            )
        return made


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
_HELD = _NUDGES | {ItemKind.REMINDER}
"""Kinds held back by /stop, safety mode, a break or an unreachable chat when they are due:
the nudges, and the reminder that a check-in or walk-through is still open."""
PROMISES_FROM_WEEK = 2
"""The programme week from which the morning step also offers today's small promise."""
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
        ContentError: if the micro-action catalogue is empty or a step has no text.
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
        self.steps = DailySteps(content, default_timezone)
        self._promise_button = Button(
            content.texts.render(keys.NUDGE_BUTTON_PROMISE), PROMISE_ASK_PAYLOAD
        )

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
        if item.kind is ItemKind.EVENING and PROMISE_PAYLOAD in item.payload:
            # The person asked for this question with /promise: a break or safety mode
            # does not hold it (it is about a promise to themselves), /stop does.
            reason = self._held(item, profile, asked_for=True)
            if reason is not None:
                return Rendered(None, reason)
            asked = render_promise_evening(item, self._texts, self._default_timezone)
            return Rendered(asked, None if asked else SkipReason.UNKNOWN_TEXT)
        if item.kind in _HELD:
            reason = self._held(item, profile)
            if reason is not None:
                return Rendered(None, reason)
        someone = profile or Profile(user=UserRef(item.platform, ""))
        if item.kind is ItemKind.MORNING:
            day = _local_date(item.local_date) or self.steps.today(someone, now)
            spec = self.steps.planned(someone, day)
            step = self.steps.step(keys.NUDGE_MORNING, someone, spec)
            if someone.onboarded_at is not None and (
                week_of_programme(self.steps.first_day(someone, day), day) >= PROMISES_FROM_WEEK
            ):  # the guides' week two: one small promise a day, asked in the morning
                step = replace(step, buttons=(*step.buttons, self._promise_button))
            return Rendered(step)
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

    def _held(
        self, item: Claimed, profile: Profile | None, *, asked_for: bool = False
    ) -> SkipReason | None:
        """Why a nudge must not go out now, or None.

        ``asked_for`` items skip the safety-mode and break checks: the person asked for
        them, about themselves.
        """
        if profile is None:
            return SkipReason.NO_PERSON
        if not profile.onboarded:
            return SkipReason.NOT_ONBOARDED
        if profile.nudges_stopped:
            return SkipReason.STOPPED
        if profile.unreachable_since is not None:
            return SkipReason.UNREACHABLE
        if asked_for:
            return None
        if not may_offer(profile, Offer.RECONNECT_NUDGE):
            return SkipReason.SAFETY_MODE
        if item.on_break:
            return SkipReason.ON_BREAK
        return None

    # ------------------------------------------------------------------ buttons

    def decode(self, payload: str) -> NudgePress | None:
        """Read a nudge payload; None unless well formed and about a step that exists."""
        press = decode_press(payload)
        if press is None or (
            press.action is not None and press.action not in self.steps.catalogue.by_id
        ):
            return None
        return press

    def press(self, press: NudgePress, turn: Turn) -> tuple[list[Reply], Profile]:
        """The answer to a nudge button, and the profile after it.

        Done, skip and swap are noted in the action log under the person's local date
        (a double tap notes once). Done answers with the step's follow-up question to
        think over, and now and then a gentle word that the next phase may be near. A
        skip or a swap rebuilds the plan, so the step (and a theme skipped often) steps
        back. A swap shows a step not seen lately; in safety mode one just for the person.
        """
        profile, now = turn.profile, turn.now
        spec = self.steps.catalogue.by_id.get(press.action or "")
        if press.verb is NudgeVerb.SWAP:
            if not profile.onboarded or spec is None:
                return [self._say(keys.NUDGES_NOT_SET_UP, profile)], profile
            other, swapped = self.steps.swap(turn.connection, profile, spec.id, now)
            return [self.steps.step(keys.NUDGE_SWAPPED, swapped, other)], swapped
        if press.verb is NudgeVerb.DONE:
            ask = self.steps.ask(spec) if spec is not None else ""
            replies = [self._say(keys.NUDGE_DONE, profile, ask=ask)]
            if profile.onboarded and spec is not None:
                self.steps.record(turn.connection, profile, spec.id, Outcome.DONE, now)
                replies += self._suggestion(turn)
            return replies, profile
        if press.verb is NudgeVerb.SKIP and profile.onboarded and spec is not None:
            self.steps.record(turn.connection, profile, spec.id, Outcome.SKIPPED, now)
            rebuilt = self.steps.rebuild(turn.connection, profile, now)
            return [self._say(keys.NUDGE_SKIPPED, rebuilt)], rebuilt
        return [self._say(_ANSWERS[press.verb], profile)], profile

    def _suggestion(self, turn: Turn) -> list[Reply]:
        """A gentle word about the next phase, at most once in :data:`SUGGEST_EVERY_DAYS`."""
        profile, now = turn.profile, turn.now
        phase = self.steps.suggestion(turn.connection, profile, now)
        if phase is None:
            return []
        repository = ActionLogRepository(turn.connection)
        last = repository.last(profile.user, Outcome.SUGGESTED)
        today = self.steps.today(profile, now)
        if last is not None and (today - last).days < SUGGEST_EVERY_DAYS:
            return []
        repository.record(profile.user, today, f"phase_{phase}", Outcome.SUGGESTED, now)
        values = {
            **profile.placeholders(self._default_timezone),
            "phase_number": str(phase),
            "phase_name": self._texts.render(f"phase.{phase}.name"),
        }
        button = Button(
            self._texts.render(keys.PHASE_BUTTON_MOVE, values), phase_move_payload(phase)
        )
        text = self._texts.render(keys.PHASE_SUGGEST_AFTER_DONE, values)
        return [Reply(text=text, key=keys.PHASE_SUGGEST_AFTER_DONE, buttons=(button,))]

    def refresh_plan(
        self, connection: Connection, before: Profile, after: Profile, now: datetime
    ) -> Profile:
        """The service's end-of-turn hook: see :meth:`DailySteps.refresh`."""
        return self.steps.refresh(connection, before, after, now)

    # ------------------------------------------------------------------ /stop and /resume

    def stop(self, profile: Profile) -> tuple[Reply, Profile]:
        """``/stop``: daily and weekly nudges off; everything else keeps working."""
        if not profile.onboarded:
            return self._say(keys.NUDGES_NOT_SET_UP, profile), profile
        if profile.nudges_stopped and profile.unreachable_since is None:
            return self._say(keys.NUDGES_ALREADY_STOPPED, profile), profile
        stopped = replace(profile, nudges_stopped=True, unreachable_since=None)
        return self._say(keys.NUDGES_STOPPED, stopped), stopped

    def resume(
        self, profile: Profile, now: datetime, *, taken: frozenset[date] = frozenset()
    ) -> tuple[Reply, Profile]:
        """``/resume``: nudges on again (also after a refused delivery), saying when next.

        ``taken``: local days that already had their daily step (see :meth:`when_next`).
        """
        if not profile.onboarded:
            return self._say(keys.NUDGES_NOT_SET_UP, profile), profile
        already = not profile.nudges_stopped and profile.unreachable_since is None
        resumed = replace(profile, nudges_stopped=False, unreachable_since=None)
        if resumed.safety_mode:
            return self._say(keys.NUDGES_RESUMED_HELD, resumed), resumed
        key = keys.NUDGES_ALREADY_ON if already else keys.NUDGES_RESUMED
        return self._say(key, resumed, when=self.when_next(resumed, now, taken=taken)), resumed

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

    def when_next(
        self, profile: Profile, now: datetime, *, taken: frozenset[date] = frozenset()
    ) -> str:
        """When the next daily step comes, in words: "tomorrow around 07:30".

        Computed exactly as the subscription computes it, past the local days in ``taken``
        (one daily step a day: today's went out before the time was moved later, say); the
        time shown is the chosen one (the few minutes of spread are what "around" means)
        unless quiet hours move it.
        """
        zone = resolve_timezone(profile.timezone or self._default_timezone)
        at = profile.daily_time or _DEFAULT_DAILY_TIME
        offset = spread_offset(person_key(profile.user))
        due = next_due(zone, at, now, offset=offset, quiet=profile.quiet)
        if due.astimezone(zone).date() in taken:
            due = next_due(zone, at, due, offset=offset, quiet=profile.quiet)
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

    def _say(
        self,
        key: str,
        profile: Profile,
        *,
        buttons: Sequence[tuple[str, str]] = (),
        **extra: str,
    ) -> Reply:
        values = {**profile.placeholders(self._default_timezone), **extra}
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
