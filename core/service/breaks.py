"""The break protocol: ``/pause`` (or the code word), the wait, the way back; ``/again``.

A break belongs to a couple (or to a person alone). Whoever calls it, the group sees the
same neutral notice with the return time on each partner's clock; each partner gets calming
steps privately. The way back opens at the return time (a timer the scheduler delivers) or
earlier once both partners say they are ready; one partner is enough for more time. Nothing
here ever changes a person's place in a flow: every handler returns the turn's own state.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from core.content import Content, ContentError
from core.couples import Break, Couple, Partner
from core.flows.engine import StepResult
from core.profile import MAX_NAME_CHARS
from core.schedule.kinds import ItemKind
from core.schedule.timers import Payload
from core.service import break_words
from core.service.break_press import BreakPress, BreakVerb, decode, encode
from core.service.break_time import (
    CAP_WINDOW,
    DEFAULT_BREAK,
    LONG_RULE,
    LONGEST_BREAK,
    MORE_TIME,
    SHORTEST_BREAK,
    parse_duration,
    whole_minutes,
)
from core.service.break_words import BreakWords
from core.service.courier import ButtonSpec, CoupleHandler, Courier, Turn
from core.service.nudges import Rendered
from core.storage.breaks import BreakRepository
from core.storage.couples import CoupleRepository
from core.storage.deliveries import Claimed, TimerRepository
from core.text_input import clean_text, holds_word
from core.types import EventKind, Reply, UserRef

NOTICE = "pause.notice"
NOTICE_LONG = "pause.notice_long"
SIGNED = "pause.signed"
CALM = "pause.calm"
CALM_SELF_CARE = "pause.calm_self_care"
DURATION_INVALID = "pause.duration_invalid"
ONLY_PARTNERS = "pause.only_partners"
ALREADY = "pause.already"
EXTENDED = "pause.extended"
TOMORROW = "pause.tomorrow"
MORE_NOTED = "pause.more_noted"
READY_NOTED = "pause.ready_noted"
READY_WAITING = "pause.ready_waiting"
STALE = "pause.stale"
NOT_YOURS = "pause.not_yours"
UNUSABLE = "pause.unusable"
SIGN_DONE = "pause.sign_done"
SIGN_ALREADY = "pause.sign_already"
GUIDE = "pause.guide"
WAY_BACK = "pause.way_back"
BOTH_READY = "pause.both_ready"
BOTH_HERE = "pause.both_here"
WAY_BACK_SELF_CARE = "pause.way_back_self_care"
CAP = "pause.cap"
SOLO = "pause.solo"
SOLO_MESSAGE = "pause.solo_message"
SOLO_BACK = "pause.solo_back"
SOLO_CALMER = "pause.solo_calmer"
BUTTON_CALMER = "pause.button.calmer"
BUTTON_MORE = "pause.button.more"
BUTTON_READY = "pause.button.ready"
BUTTON_NEED_MORE = "pause.button.need_more"
BUTTON_TOMORROW = "pause.button.tomorrow"
BUTTON_SIGN = "pause.button.sign"
BUTTON_STEP_AWAY = "pause.button.step_away"
AGAIN_PRIVATE = "again.private"
AGAIN_GROUP = "again.group"
AGAIN_SELF_CARE = "again.self_care"
AGAIN_BUTTON_PAUSE = "again.button.pause"
KEYS = (
    NOTICE,
    NOTICE_LONG,
    SIGNED,
    CALM,
    CALM_SELF_CARE,
    DURATION_INVALID,
    ONLY_PARTNERS,
    ALREADY,
    EXTENDED,
    TOMORROW,
    MORE_NOTED,
    READY_NOTED,
    READY_WAITING,
    STALE,
    NOT_YOURS,
    UNUSABLE,
    SIGN_DONE,
    SIGN_ALREADY,
    GUIDE,
    WAY_BACK,
    BOTH_READY,
    BOTH_HERE,
    WAY_BACK_SELF_CARE,
    CAP,
    SOLO,
    SOLO_MESSAGE,
    SOLO_BACK,
    SOLO_CALMER,
    BUTTON_CALMER,
    BUTTON_MORE,
    BUTTON_READY,
    BUTTON_NEED_MORE,
    BUTTON_TOMORROW,
    BUTTON_SIGN,
    BUTTON_STEP_AWAY,
    AGAIN_PRIVATE,
    AGAIN_GROUP,
    AGAIN_SELF_CARE,
    AGAIN_BUTTON_PAUSE,
    *break_words.KEYS,
)
"""Every text key the break protocol shows; all must exist in the content."""

WAY = "way"
"""Payload field of a break-end timer: where the way back goes."""
WAY_GROUP = "group"
"""To the couple's linked group."""
WAY_PAIR = "pair"
"""To one partner privately (the couple has no group): one timer per partner."""
WAY_SOLO = "solo"
"""To a person on a break alone."""
WAY_CARE = "care"
"""To a partner in safety mode, privately: a self-care note, while the group gets the way back."""
BREAK_ID = "break"
"""Payload field of a break-end timer: the break's id."""
CARE = "care"
"""Payload field set to ``1`` when the person it goes to was in safety mode as it was set."""

_SELF_CARE_KEYS = {WAY_BACK: WAY_BACK_SELF_CARE, BOTH_READY: WAY_BACK_SELF_CARE}
"""What a partner in safety mode gets instead, when the way back reaches them privately."""

Values = Callable[[Partner], Mapping[str, str]]
"""The text values for one partner (their own clock for a time)."""


class BreakDesk:
    """Runs breaks for couples and for people alone."""

    def __init__(
        self, content: Content, courier: Courier, *, default_timezone: str, pause_cap: int = 3
    ) -> None:
        self._texts = content.texts
        self._courier = courier
        self._pause_cap = pause_cap
        self._words = BreakWords(content.texts, default_timezone)
        missing = [key for key in KEYS if key not in self._texts.by_key]
        if missing:
            raise ContentError([f"code: text key {key!r} is missing" for key in missing])
        self._guide = self._texts.render(GUIDE)

    @property
    def commands(self) -> Mapping[str, CoupleHandler]:
        """The commands this desk answers."""
        return {
            "pause": lambda turn: _unsigned(self._pause(turn)),
            "again": lambda turn: _unsigned(self._again(turn)),
        }

    # ------------------------------------------------------------------ calling a break

    def _pause(self, turn: Turn) -> StepResult:
        """``/pause [length]``: a break (or more time on the running one), in any state."""
        length = parse_duration(" ".join(turn.event.args))
        if length is None:
            return self._stay(turn, self._private(turn, self._courier.say(DURATION_INVALID)))
        return self._call(turn, length)

    def codeword(self, turn: Turn) -> StepResult | None:
        """A break, if the text holds the couple's code word as a whole word; else None."""
        result = self._codeword(turn)
        return _unsigned(result) if result is not None else None

    def _codeword(self, turn: Turn) -> StepResult | None:
        """A break, if the text holds the couple's code word as a whole word; else None.

        In a linked group, someone who is not one of the partners typing the word gets
        nothing at all: the word is the couple's, not the room's.
        """
        event = turn.event
        if event.chat.is_private:
            word = BreakRepository(turn.connection).codeword_of(event.user)
            if word is None or not holds_word(event.text, word):
                return None
            return self._call(turn, DEFAULT_BREAK)
        couples = CoupleRepository(turn.connection)
        word = couples.codeword_for_group(event.chat)
        if word is None or not holds_word(event.text, word):
            return None
        couple = couples.couple_for_group(event.chat)
        partner = couple.member(event.user) if couple is not None else None
        if couple is None or partner is None:
            return StepResult((), turn.state, turn.profile)
        return self._together(turn, couple, partner, DEFAULT_BREAK)

    def _call(self, turn: Turn, length: timedelta) -> StepResult:
        """Whose break this is: the group's couple, the caller's couple, or theirs alone."""
        event = turn.event
        couples = CoupleRepository(turn.connection)
        couple: Couple | None = None
        if not event.chat.is_private:
            couple = couples.couple_for_group(event.chat)
            if couple is not None and couple.member(event.user) is None:
                return self._refuse(turn, ONLY_PARTNERS)
        if couple is None:
            couple = couples.couple_of(event.user)
        partner = couple.member(event.user) if couple is not None else None
        if couple is None or partner is None:
            member = couples.member_id(event.user)
            if member is None:  # pragma: no cover - every turn stores its person first
                raise ValueError("unknown person")
            return self._alone(turn, member, length)
        return self._together(turn, couple, partner, length)

    def _together(
        self, turn: Turn, couple: Couple, caller: Partner, length: timedelta
    ) -> StepResult:
        breaks, now = BreakRepository(turn.connection), turn.now
        breaks.hold(couple.id)  # two calls at once: the second sees the first one's break
        current = breaks.current(couple.id, caller.member_id)
        if current is not None and current.running(now):
            longer = length >= LONG_RULE
            return self._lengthen(turn, couple, current, now + length, long_rule=longer)
        if breaks.calls_since(caller.member_id, now - CAP_WINDOW) >= self._pause_cap:
            return self._reflect(turn, length)
        started = breaks.start(
            couple.id, caller.member_id, now, now + length, long_rule=length >= LONG_RULE
        )
        if current is not None:  # its way back was open; the new break replaces it
            self._cancel(turn, current, couple)
        self._schedule(turn, couple, started)
        replies: list[Reply] = []
        if couple.group is not None:
            when = self._words.when_for(couple, started.ends_at, now)
            notice = NOTICE_LONG if started.long_rule else NOTICE
            replies += self._courier.to_chat(
                turn, couple.group, self._via(couple), notice, {"when": when}
            )
        for partner in couple.partners:
            buttons = self._wait_buttons(turn, started, partner)
            if partner == caller and couple.group is not None:
                buttons.append((BUTTON_SIGN, encode(BreakVerb.SIGN, started.id)))
            key = CALM_SELF_CARE if self._in_care(turn, partner) else CALM
            when = self._words.when(started.ends_at, now, partner.timezone)
            replies += self._courier.to_person(turn, partner.user, key, {"when": when}, buttons)
        return StepResult(tuple(replies), turn.state, turn.profile)

    def _alone(
        self, turn: Turn, member: int, length: timedelta, *, capped: bool = True
    ) -> StepResult:
        """A break for one person: a message for their partner, calm steps, a reminder."""
        breaks, now, user = BreakRepository(turn.connection), turn.now, turn.event.user
        current = breaks.current(None, member)
        if current is not None and current.running(now):
            longer = length >= LONG_RULE
            return self._lengthen(turn, None, current, now + length, long_rule=longer)
        if capped and breaks.calls_since(member, now - CAP_WINDOW) >= self._pause_cap:
            return self._reflect(turn, length)
        started = breaks.start(None, member, now, now + length, long_rule=length >= LONG_RULE)
        if current is not None:
            self._cancel(turn, current, None)
        TimerRepository(turn.connection).schedule(
            self._solo_key(started),
            started.ends_at,
            self._payload(started, WAY_SOLO, care=turn.profile.safety_mode),
            kind=ItemKind.BREAK_END,
            user=user,
        )
        when = self._words.when(started.ends_at, now, turn.profile.timezone)
        message = {"text": self._words.length(length), "when": when}
        key = CALM_SELF_CARE if turn.profile.safety_mode else CALM
        courier = self._courier
        replies = [
            *courier.to_person(turn, user, SOLO),
            *courier.to_person(turn, user, SOLO_MESSAGE, message),
            *courier.to_person(turn, user, key, {"when": when}, self._solo_buttons(started, turn)),
        ]
        return StepResult(tuple(replies), turn.state, turn.profile)

    def _reflect(self, turn: Turn, length: timedelta) -> StepResult:
        """Past the cap: a private reflection instead of another break; the group sees nothing."""
        button = (BUTTON_STEP_AWAY, encode(BreakVerb.STEP_AWAY, whole_minutes(length)))
        replies = self._courier.to_person(turn, turn.event.user, CAP, buttons=(button,))
        return StepResult(tuple(replies), turn.state, turn.profile)

    # ------------------------------------------------------------------ buttons

    def press(self, turn: Turn) -> StepResult | None:
        """Break buttons (calmer, more time, ready, tomorrow, sign, still need a break)."""
        result = self._press(turn)
        return _unsigned(result) if result is not None else None

    def _press(self, turn: Turn) -> StepResult | None:
        """Break buttons (calmer, more time, ready, tomorrow, sign, still need a break)."""
        press = decode(turn.event.payload or "")
        if press is None:
            return None
        if press.verb is BreakVerb.PAUSE:
            return self._call(turn, DEFAULT_BREAK)
        if press.verb is BreakVerb.STEP_AWAY:
            return self._step_away(turn, press)
        breaks = BreakRepository(turn.connection)
        found = breaks.get(press.number or 0)
        if found is None or not found.open():
            return self._stay(turn, self._toast(STALE))
        if found.couple_id is None:
            return self._solo_press(turn, press, found)
        breaks.hold(found.couple_id)  # presses of both partners at once take turns
        found = breaks.get(found.id)
        if found is None or not found.open():
            return self._stay(turn, self._toast(STALE))
        couple = CoupleRepository(turn.connection).get(found.couple_id or 0)
        partner = couple.member(turn.event.user) if couple is not None else None
        if couple is None or partner is None:
            return self._stay(turn, self._toast(ONLY_PARTNERS))
        if press.verb in (BreakVerb.CALMER, BreakVerb.READY):
            return self._ready(turn, couple, partner, found)
        if press.verb is BreakVerb.MORE:
            until = max(turn.now, found.ends_at) + MORE_TIME
            return self._lengthen(turn, couple, found, until, long_rule=False)
        if press.verb is BreakVerb.TOMORROW:
            return self._lengthen(turn, couple, found, turn.now + LONG_RULE, long_rule=True)
        return self._sign(turn, couple, partner, found)

    def _step_away(self, turn: Turn, press: BreakPress) -> StepResult:
        """After the cap, "I still need to step away": a break alone, privately, no notice."""
        length = timedelta(minutes=press.number or 0)
        if not SHORTEST_BREAK <= length <= LONGEST_BREAK:
            return self._stay(turn, self._toast(UNUSABLE))
        member = CoupleRepository(turn.connection).member_id(turn.event.user)
        if member is None:  # pragma: no cover - every turn stores its person first
            raise ValueError("unknown person")
        return self._alone(turn, member, length, capped=False)

    def _solo_press(self, turn: Turn, press: BreakPress, found: Break) -> StepResult:
        member = CoupleRepository(turn.connection).member_id(turn.event.user)
        if member != found.caller_id:
            return self._stay(turn, self._toast(NOT_YOURS))
        if press.verb in (BreakVerb.CALMER, BreakVerb.READY):
            BreakRepository(turn.connection).end(found.id, turn.now)
            self._cancel(turn, found, None)
            replies = self._courier.to_person(turn, turn.event.user, SOLO_CALMER)
            return StepResult(tuple(replies), turn.state, turn.profile)
        if press.verb is BreakVerb.MORE:
            until = max(turn.now, found.ends_at) + MORE_TIME
            return self._lengthen(turn, None, found, until, long_rule=False)
        if press.verb is BreakVerb.TOMORROW:
            return self._lengthen(turn, None, found, turn.now + LONG_RULE, long_rule=True)
        return self._stay(turn, self._toast(UNUSABLE))  # a break alone has no notice to sign

    def _ready(self, turn: Turn, couple: Couple, partner: Partner, found: Break) -> StepResult:
        """One partner ready: a note to them alone. Both: the break ends (early if need be)."""
        breaks, now = BreakRepository(turn.connection), turn.now
        ready = breaks.mark_ready(found.id, partner.member_id)
        if not {p.member_id for p in couple.partners} <= ready:
            key = READY_NOTED if found.running(now) else READY_WAITING
            when = self._words.when(found.ends_at, now, partner.timezone)
            return self._stay(turn, self._toast(key, {"when": when}))
        if not breaks.end(found.id, now):
            return self._stay(turn, self._toast(STALE))
        self._cancel(turn, found, couple)
        if found.running(now):
            values = {"text": self._guide}
            replies = self._announce(turn, couple, BOTH_READY, lambda _: values)
        else:
            replies = self._announce(turn, couple, BOTH_HERE, lambda _: {})
        return StepResult(tuple(replies), turn.state, turn.profile)

    def _sign(self, turn: Turn, couple: Couple, partner: Partner, found: Break) -> StepResult:
        """The caller chose to put their name on the break: the group sees who called it.

        Once per break, and only while it runs: after the return time it would be news
        about a break that is over.
        """
        name = _shown_name(turn.event.user.display_name) or _shown_name(partner.name)
        if partner.member_id != found.caller_id:
            return self._stay(turn, self._toast(NOT_YOURS))
        if couple.group is None or not name:
            return self._stay(turn, self._toast(UNUSABLE))
        if not found.running(turn.now):
            return self._stay(turn, self._toast(STALE))
        if not BreakRepository(turn.connection).sign(found.id, turn.now):
            return self._stay(turn, self._toast(SIGN_ALREADY))
        replies = self._courier.to_chat(
            turn, couple.group, self._via(couple), SIGNED, {"name": name}
        )
        if turn.event.chat != couple.group:
            replies.append(self._toast(SIGN_DONE))
        return StepResult(tuple(replies), turn.state, turn.profile)

    # ------------------------------------------------------------------ more time

    def _lengthen(
        self, turn: Turn, couple: Couple | None, found: Break, until: datetime, *, long_rule: bool
    ) -> StepResult:
        """Move the return time later (never earlier); one partner is enough."""
        now, user = turn.now, turn.event.user
        if until <= found.ends_at:
            when = self._words.when(found.ends_at, now, turn.profile.timezone)
            return self._stay(turn, self._private(turn, self._courier.say(ALREADY, {"when": when})))
        self._cancel(turn, found, couple)
        longer = BreakRepository(turn.connection).extend(found.id, until, long_rule=long_rule)
        key = TOMORROW if long_rule else EXTENDED
        mine = {"when": self._words.when(longer.ends_at, now, turn.profile.timezone)}
        if couple is None:
            self._schedule_solo(turn, longer)
            replies = self._courier.to_person(turn, user, MORE_NOTED, mine)
            return StepResult(tuple(replies), turn.state, turn.profile)
        self._schedule(turn, couple, longer)
        replies = self._announce(
            turn,
            couple,
            key,
            lambda p: {"when": self._words.when(longer.ends_at, now, p.timezone)},
            both={"when": self._words.when_for(couple, longer.ends_at, now)},
        )
        if couple.group is not None and turn.event.chat != couple.group:
            replies += self._courier.to_person(turn, user, MORE_NOTED, mine)
        return StepResult(tuple(replies), turn.state, turn.profile)

    # ------------------------------------------------------------------ /again

    def _again(self, turn: Turn) -> StepResult:
        """The slip (``/again``): no blame, a break to take, /repair for later."""
        event = turn.event
        if not event.chat.is_private:
            couple = CoupleRepository(turn.connection).couple_for_group(event.chat)
            if couple is not None and couple.member(event.user) is None:
                return self._refuse(turn, ONLY_PARTNERS)
            key = AGAIN_GROUP
        else:
            key = AGAIN_SELF_CARE if turn.profile.safety_mode else AGAIN_PRIVATE
        button = (AGAIN_BUTTON_PAUSE, encode(BreakVerb.PAUSE))
        return self._stay(turn, self._courier.say(key, buttons=(button,)))

    # ------------------------------------------------------------------ the timer

    def render(self, item: Claimed, now: datetime) -> Rendered | None:
        """The way back when a break's timer fires; None for items that are not a break's.

        Runs in the sender, from the payload alone. The group's way back is the same
        whoever is in safety mode: a partner in safety mode gets a self-care note of their
        own, privately, from a timer of its own. A private way back is self-care when the
        person it goes to is in safety mode (now, or when the timer was set).
        """
        raw = item.payload.get(BREAK_ID, "")
        if item.kind is not ItemKind.BREAK_END or not raw.isdigit():
            return None
        way = item.payload.get(WAY)
        break_id = int(raw)
        say = self._courier.say
        if way == WAY_GROUP:  # never shaped by anyone's safety mode: the group would see it
            return Rendered(say(WAY_BACK, {"text": self._guide}, self._way_back_buttons(break_id)))
        if way == WAY_CARE:
            return Rendered(say(WAY_BACK_SELF_CARE))
        care = item.payload.get(CARE) == "1" or (
            item.profile is not None and item.profile.safety_mode
        )
        if way == WAY_SOLO:
            if care:
                return Rendered(say(WAY_BACK_SELF_CARE))
            buttons = (
                (BUTTON_CALMER, encode(BreakVerb.CALMER, break_id)),
                (BUTTON_MORE, encode(BreakVerb.MORE, break_id)),
            )
            return Rendered(say(SOLO_BACK, buttons=buttons))
        if way != WAY_PAIR:
            return None
        if care:
            return Rendered(say(WAY_BACK_SELF_CARE))
        return Rendered(say(WAY_BACK, {"text": self._guide}, self._way_back_buttons(break_id)))

    def _schedule(self, turn: Turn, couple: Couple, found: Break) -> None:
        """The break-end timers: the group's way back, or (no group) one to each partner.

        With a group, a partner in safety mode also gets a timer of their own: a private
        self-care note at the return time. The group's timer is the same either way, so
        nothing in the group shows that anyone is in safety mode.
        """
        timers = TimerRepository(turn.connection)
        if couple.group is not None:
            timers.schedule(
                found.timer_key,
                found.ends_at,
                self._payload(found, WAY_GROUP, care=False),
                kind=ItemKind.BREAK_END,
                user=self._via(couple),
                chat=couple.group,
            )
        for partner in couple.partners:
            care = self._in_care(turn, partner)
            if couple.group is not None and not care:
                continue
            way = WAY_PAIR if couple.group is None else WAY_CARE
            timers.schedule(
                f"{found.timer_key}:{partner.member_id}",
                found.ends_at,
                self._payload(found, way, care=care),
                kind=ItemKind.BREAK_END,
                user=partner.user,
            )

    def _schedule_solo(self, turn: Turn, found: Break) -> None:
        TimerRepository(turn.connection).schedule(
            self._solo_key(found),
            found.ends_at,
            self._payload(found, WAY_SOLO, care=turn.profile.safety_mode),
            kind=ItemKind.BREAK_END,
            user=turn.event.user,
        )

    def _cancel(self, turn: Turn, found: Break, couple: Couple | None) -> None:
        """Drop every timer the break may have now (the group may have been linked since)."""
        timers = TimerRepository(turn.connection)
        timers.cancel(found.timer_key)
        if found.couple_id is None:
            timers.cancel(self._solo_key(found))
            return
        for partner in couple.partners if couple is not None else ():
            timers.cancel(f"{found.timer_key}:{partner.member_id}")

    @staticmethod
    def _solo_key(found: Break) -> str:
        return f"{found.timer_key}:{found.caller_id}"

    @staticmethod
    def _payload(found: Break, way: str, *, care: bool) -> Payload:
        payload = {BREAK_ID: str(found.id), WAY: way}
        if care:
            payload[CARE] = "1"
        return payload

    # ------------------------------------------------------------------ helpers

    def _announce(
        self,
        turn: Turn,
        couple: Couple,
        key: str,
        values: Values,
        *,
        both: Mapping[str, str] | None = None,
    ) -> list[Reply]:
        """Say ``key`` in the couple's group, or (no group) to each partner privately."""
        if couple.group is not None:
            shown = both if both is not None else values(couple.partners[0])
            return self._courier.to_chat(turn, couple.group, self._via(couple), key, shown)
        replies: list[Reply] = []
        for partner in couple.partners:
            mine = _SELF_CARE_KEYS.get(key, key) if self._in_care(turn, partner) else key
            replies += self._courier.to_person(turn, partner.user, mine, values(partner))
        return replies

    def _wait_buttons(self, turn: Turn, found: Break, partner: Partner) -> list[ButtonSpec]:
        more = (BUTTON_MORE, encode(BreakVerb.MORE, found.id))
        if self._in_care(turn, partner):
            return [more]
        return [(BUTTON_CALMER, encode(BreakVerb.CALMER, found.id)), more]

    def _solo_buttons(self, found: Break, turn: Turn) -> Sequence[ButtonSpec]:
        more = (BUTTON_MORE, encode(BreakVerb.MORE, found.id))
        if turn.profile.safety_mode:
            return (more,)
        return ((BUTTON_CALMER, encode(BreakVerb.CALMER, found.id)), more)

    @staticmethod
    def _way_back_buttons(break_id: int) -> Sequence[ButtonSpec]:
        return (
            (BUTTON_READY, encode(BreakVerb.READY, break_id)),
            (BUTTON_NEED_MORE, encode(BreakVerb.MORE, break_id)),
            (BUTTON_TOMORROW, encode(BreakVerb.TOMORROW, break_id)),
        )

    @staticmethod
    def _in_care(turn: Turn, partner: Partner) -> bool:
        """True if ``partner`` is in safety mode (the actor's own profile is the freshest)."""
        if partner.user == turn.event.user:
            return turn.profile.safety_mode
        return partner.safety_mode

    @staticmethod
    def _via(couple: Couple) -> UserRef:
        """A partner on the group's platform, who the group's queued items go through."""
        group = couple.group
        for partner in couple.partners:
            if group is not None and partner.user.platform is group.platform:
                return partner.user
        return couple.partners[0].user

    def _toast(self, key: str, values: Mapping[str, str] | None = None) -> Reply:
        """A brief note for the person who pressed, never a message to a group."""
        return replace(self._courier.say(key, values), toast=True)

    def _refuse(self, turn: Turn, key: str) -> StepResult:
        """No to the actor alone: a toast under a button, else a private message."""
        if turn.event.kind is EventKind.BUTTON:
            return self._stay(turn, self._toast(key))
        return self._stay(turn, self._private(turn, self._courier.say(key)))

    @staticmethod
    def _private(turn: Turn, reply: Reply) -> Reply:
        """``reply`` for the actor alone: as is in private, privately from a group."""
        if turn.event.chat.is_private:
            return reply
        return replace(reply, private_to=turn.event.user)

    @staticmethod
    def _stay(turn: Turn, reply: Reply) -> StepResult:
        return StepResult((reply,), turn.state, turn.profile)


def _shown_name(name: str | None) -> str:
    """A display name cleaned like typed text and cut to a greeting's length ("" if none)."""
    return clean_text(name or "")[:MAX_NAME_CHARS]


def _unsigned(result: StepResult) -> StepResult:
    """Mark what the group hears about a break as said on behalf of no one.

    A signed notice names its caller in its own words; no platform adds a name to it.
    """
    replies = tuple(
        replace(r, anonymous=True) if r.private_to is None and not r.toast else r
        for r in result.replies
    )
    return replace(result, replies=replies)
