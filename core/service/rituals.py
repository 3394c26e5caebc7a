"""Shared rituals: the weekly check-in (``/checkin``) and the repair (``/repair``).

A round opens for the couple; each partner answers privately in their own flow (their
words are kept encrypted, per round). When both have finished, the couple's group (or,
without one, each partner privately on a shared platform) gets what each chose to share,
in one message, at one moment, and the round closes. Before that nothing either partner
wrote leaves the database; what a partner kept to themselves never does. A partner in
safety mode is offered no round and gets no prompt; the round simply waits.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import timedelta

from sqlalchemy import Connection

from core.content import Content, ContentError
from core.couples import Couple, Partner
from core.crypto import Cipher
from core.flows.engine import FlowEngine, StepResult
from core.rituals import ALL_ITEMS, RitualKind, Round, parse_action, parse_note
from core.safety.mode import Offer, may_offer
from core.schedule.kinds import ItemKind
from core.service import ritual_share, ritual_weekly
from core.service.courier import ButtonSpec, CoupleHandler, Courier, Turn
from core.storage.couples import CoupleRepository
from core.storage.deliveries import TimerRepository
from core.storage.rituals import RitualRepository, move_weekly_chat, open_rounds
from core.storage.subscriptions import SubscriptionRepository
from core.types import ChatRef, Reply

NUDGE_AFTER = timedelta(hours=24)
"""When a round is still open this long after it opened, a neutral reminder goes out."""
ROUND_LIFETIME = timedelta(days=7)
"""A round nobody finished within a week lapses (nothing shared); the next command opens
a fresh one."""
WEEKLY = "weekly"
"""``/checkin weekly …`` sets or removes the couple's weekly reminder."""

PREFIX = "rt"
GO = "go"
NEW = "new"
MAX_ID_DIGITS = 12
"""Longest round id a button may carry; anything longer is forged (and would overflow)."""
MAX_ROUND_ID = 2**31 - 1
"""Largest id the ``rituals.id`` column (a 32-bit integer on PostgreSQL) can hold."""
START_ROUND_PAYLOAD = f"{PREFIX}:{NEW}:{RitualKind.CHECKIN.value}"
"""A button that opens a check-in round (or picks up the open one), as ``/checkin`` does."""
WEEKLY_BUTTON: ButtonSpec = (ritual_weekly.BUTTON_START, START_ROUND_PAYLOAD)
"""The "Start our check-in" button a weekly reminder may carry."""

NO_PARTNER = "ritual.no_partner"
SELF_CARE = "ritual.self_care"
ANSWER_PRIVATELY = "ritual.answer_privately"
ROUND_GONE = "ritual.round_gone"
WAITING = "ritual.waiting"
RESUME = "ritual.resume"
POSTED = "ritual.posted"
NEEDS_GROUP = "ritual.needs_group"
ONLY_COUPLE = "ritual.only_couple"


def _key(kind: RitualKind, name: str) -> str:
    return f"ritual.{kind.value}.{name}"


def invite_key(kind: RitualKind) -> str:
    """The private message that offers a partner their part of a round."""
    return _key(kind, "invite")


def opened_key(kind: RitualKind) -> str:
    """The neutral group line when a round opens there."""
    return _key(kind, "opened_group")


def nudge_key(kind: RitualKind) -> str:
    """The neutral reminder while a round is still open a day later."""
    return _key(kind, "nudge")


def start_label(kind: RitualKind) -> str:
    """The label of a partner's "start my part" button."""
    return _key(kind, "button_start")


def go_payload(round_id: int) -> str:
    """The payload of the button that starts one's part of round ``round_id``."""
    return f"{PREFIX}:{GO}:{round_id}"


def nudge_timer_keys(round_id: int, couple: Couple) -> list[str]:
    """The ``Timers`` keys a round's reminder may use: the group's and each partner's."""
    return [f"ritual:{round_id}:nudge"] + [
        f"ritual:{round_id}:nudge:{p.member_id}" for p in couple.partners
    ]


def cancel_round_reminders(connection: Connection, couple: Couple, round_id: int) -> None:
    """Drop the pending reminders of one round."""
    timers = TimerRepository(connection)
    for key in nudge_timer_keys(round_id, couple):
        timers.cancel(key)


def forget_rounds(connection: Connection, couple: Couple) -> None:
    """Drop the pending reminders of the couple's open rounds: call before unpairing.

    The rounds and answers themselves go with the couple's row; a reminder already in the
    send queue would not.
    """
    for round_id in open_rounds(connection, couple.id):
        cancel_round_reminders(connection, couple, round_id)


def forget_couple_schedule(connection: Connection, couple: Couple) -> None:
    """Drop everything the couple has waiting to be sent: call before unpairing or deleting.

    That is the reminders of their open rounds and the weekly check-in reminder, whichever
    partner set it: it goes to the couple's group, which must not keep hearing from Mend
    once the couple has ended.
    """
    forget_rounds(connection, couple)
    subscriptions = SubscriptionRepository(connection)
    for partner in couple.partners:
        subscriptions.unsubscribe(partner.user, ItemKind.WEEKLY)


def move_weekly_reminder(connection: Connection, couple: Couple, group: ChatRef) -> None:
    """Send the couple's weekly check-in reminder to ``group`` from now on (just linked).

    Its day and time stay as set; a reminder that went privately to the partner who set
    it (no group then) now reaches them both, as ``/checkin weekly`` promised.
    """
    move_weekly_chat(connection, [p.member_id for p in couple.partners], group)


def _round_id(digits: str) -> int | None:
    """The round id a "start my part" button carries; None for a forged or garbled one."""
    if not (digits.isascii() and digits.isdigit()) or len(digits) > MAX_ID_DIGITS:
        return None
    round_id = int(digits)
    return round_id if round_id <= MAX_ROUND_ID else None


def _same_chat(one: ChatRef, other: ChatRef | None) -> bool:
    return other is not None and (one.platform, one.chat_id) == (other.platform, other.chat_id)


class RitualDesk:
    """``/checkin`` and ``/repair``: rounds, private answers, and sharing when both are done."""

    def __init__(
        self, content: Content, courier: Courier, cipher: Cipher, *, default_timezone: str
    ) -> None:
        self._content = content
        self._courier = courier
        self._cipher = cipher
        self._default_timezone = default_timezone
        self._engine = FlowEngine(content, default_timezone=default_timezone)
        problems = [f"flow {k.value!r} is missing" for k in RitualKind if k not in content.flows]
        texts = content.texts.by_key
        problems += [f"code: text key {k!r} is missing" for k in self._keys() if k not in texts]
        if problems:
            raise ContentError(problems)

    @staticmethod
    def _keys() -> list[str]:
        keys = [NO_PARTNER, SELF_CARE, ANSWER_PRIVATELY, ROUND_GONE, WAITING, RESUME, POSTED]
        keys += [NEEDS_GROUP, ONLY_COUPLE]
        keys += [*ritual_share.required_keys(), *ritual_weekly.required_keys()]
        for kind in RitualKind:
            keys += [invite_key(kind), opened_key(kind), nudge_key(kind), start_label(kind)]
        return keys

    @property
    def commands(self) -> Mapping[str, CoupleHandler]:
        """The commands this desk answers."""
        return {"checkin": self._checkin, "repair": self._repair}

    # ------------------------------------------------------------------ commands

    def _checkin(self, turn: Turn) -> StepResult:
        args = turn.event.args
        if args and args[0].lower() == WEEKLY:
            return self._weekly(turn, args[1:])
        return self._open(turn, RitualKind.CHECKIN)

    def _repair(self, turn: Turn) -> StepResult:
        return self._open(turn, RitualKind.REPAIR)

    def _open(self, turn: Turn, kind: RitualKind) -> StepResult:
        """Open a round of ``kind`` for the caller's couple, or say where the open one is."""
        held = self._held(turn)
        if held is not None:
            return held
        couple = CoupleRepository(turn.connection).couple_of(turn.event.user)
        if couple is None:
            return self._private(turn, NO_PARTNER)
        rituals = self._rituals(turn)
        current = self._current(turn, rituals, couple, kind)
        if current is not None:
            return self._continue(turn, couple, current)
        opened = rituals.start(couple.id, kind, turn.now)
        self._schedule_reminder(turn, couple, opened)
        event = turn.event
        other = couple.partner_of(event.user)
        buttons = [(start_label(kind), go_payload(opened.id))]
        replies: list[Reply] = []
        if _same_chat(event.chat, couple.group):
            replies.append(self._courier.say(opened_key(kind)))
        if not other.safety_mode:  # the round waits for them, and nobody learns why
            replies += self._courier.to_person(turn, other.user, invite_key(kind), None, buttons)
        if event.chat.is_private:
            started = self._engine.start(kind.value, turn.profile, turn.now)
            return replace(started, replies=(*started.replies, *replies))
        replies += self._courier.to_person(turn, event.user, invite_key(kind), None, buttons)
        return StepResult(tuple(replies), turn.state, turn.profile)

    def _continue(self, turn: Turn, couple: Couple, current: Round) -> StepResult:
        """The caller's way into an open round: their flow, its current step, or its status."""
        event, profile, state = turn.event, turn.profile, turn.state
        me = couple.member(event.user)
        assert me is not None
        rituals = self._rituals(turn)
        if me.member_id in rituals.finished(current.id):
            settled = self._settle(turn, couple, current)
            replies = settled or self._courier.to_person(turn, event.user, WAITING)
            return StepResult(tuple(replies), state, profile)
        kind = current.kind
        if not event.chat.is_private:
            buttons = [(start_label(kind), go_payload(current.id))]
            invite = self._courier.to_person(turn, event.user, invite_key(kind), None, buttons)
            return StepResult(tuple(invite), state, profile)
        if state is not None and state.flow == kind.value:
            again = self._engine.show(state, profile)
            return StepResult((self._courier.say(RESUME), *again), state, profile)
        return self._engine.start(kind.value, profile, turn.now)

    def _weekly(self, turn: Turn, args: Sequence[str]) -> StepResult:
        held = self._held(turn)
        if held is not None:
            return held
        couple = CoupleRepository(turn.connection).couple_of(turn.event.user)
        if couple is None:
            return self._private(turn, NO_PARTNER)
        answer = ritual_weekly.apply_weekly(
            turn.connection,
            self._content.texts,
            turn.profile,
            couple,
            args,
            turn.now,
            default_timezone=self._default_timezone,
        )
        return self._private(turn, answer.key, answer.values)

    # ------------------------------------------------------------------ buttons

    def press(self, turn: Turn) -> StepResult | None:
        """Ritual buttons ("start my part", "start our check-in"); None for any other."""
        parts = (turn.event.payload or "").split(":")
        if len(parts) != 3 or parts[0] != PREFIX:
            return None
        if parts[1] == NEW and parts[2] in {k.value for k in RitualKind}:
            if not self._may_start_here(turn):
                return StepResult((self._toast(ONLY_COUPLE),), turn.state, turn.profile)
            return self._open(turn, RitualKind(parts[2]))
        round_id = _round_id(parts[2]) if parts[1] == GO else None
        if round_id is not None:
            return self._go(turn, round_id)
        return self._private(turn, ROUND_GONE)

    @staticmethod
    def _may_start_here(turn: Turn) -> bool:
        """True unless a "start our check-in" press in a group comes from outside its couple.

        In a group the button belongs to the couple linked to it: anyone else pressing it
        (a friend in the group, or a group no couple has linked) opens nothing.
        """
        chat = turn.event.chat
        if chat.is_private:
            return True
        repo = CoupleRepository(turn.connection)
        owner = repo.couple_for_group(chat)
        return owner is not None and owner.member(turn.event.user) is not None

    def _go(self, turn: Turn, round_id: int) -> StepResult:
        """The "start my part" button: the presser's own flow for round ``round_id``."""
        held = self._held(turn)
        if held is not None:
            return held
        if not turn.event.chat.is_private:
            return self._private(turn, ANSWER_PRIVATELY)
        couple = CoupleRepository(turn.connection).couple_of(turn.event.user)
        rituals = self._rituals(turn)
        pressed = rituals.get(round_id)
        if couple is None or pressed is None or pressed.couple_id != couple.id:
            return self._private(turn, ROUND_GONE)
        current = self._current(turn, rituals, couple, pressed.kind)
        if current is None or current.id != round_id:
            return self._private(turn, ROUND_GONE)
        return self._continue(turn, couple, current)

    # ------------------------------------------------------------------ flow notes and actions

    def keep(self, turn: Turn, note: str, text: str) -> bool:
        """Store a ritual answer (``checkin.*``, ``repair.*``); False for any other note.

        An answer for a round that is gone (the couple ended, the round lapsed, the
        person already finished) is not kept anywhere: it never falls through to
        another store.
        """
        parsed = parse_note(note)
        if parsed is None:
            return False
        kind, item = parsed
        found = self._round_of(turn, kind)
        if found is not None:
            me, current = found
            self._rituals(turn).save_answer(current.id, me.member_id, item, text, turn.now)
        return True

    def act(self, turn: Turn, action: str) -> list[Reply] | None:
        """Carry out a ritual flow action; None if ``action`` is not a ritual's."""
        parsed = parse_action(action)
        if parsed is None:
            return None
        found = self._round_of(turn, parsed.kind)
        if found is None:
            return [self._courier.say(ROUND_GONE)] if parsed.finish else []
        me, current = found
        rituals = self._rituals(turn)
        if parsed.share is not None:
            item = None if parsed.share == ALL_ITEMS else parsed.share
            rituals.share(current.id, me.member_id, item)
        if not parsed.finish:
            return []
        rituals.finish(current.id, me.member_id, turn.now)
        couple = CoupleRepository(turn.connection).get(current.couple_id)
        return self._settle(turn, couple, current) if couple is not None else []

    # ------------------------------------------------------------------ sharing

    def _settle(self, turn: Turn, couple: Couple, current: Round) -> list[Reply]:
        """Share and close the round if both partners have finished; else nothing."""
        done = self._rituals(turn).finished(current.id)
        if not all(p.member_id in done for p in couple.partners):
            return []
        if any(self._in_safety_mode(turn, p) for p in couple.partners):
            return []  # it waits, neutrally, until safety mode ends
        if not self._rituals(turn).close(current.id, turn.now):
            return []
        self._cancel_reminders(turn, couple, current)
        return self._share(turn, couple, current)

    def _share(self, turn: Turn, couple: Couple, current: Round) -> list[Reply]:
        """Send the finished round: to the group, else to each partner privately.

        Free text is only ever a reply on the event's own platform, never a queued item:
        without a group, partners on two platforms are told that sharing needs one.
        """
        sharers = [ritual_share.Sharer(p.member_id, p.name) for p in couple.partners]
        answers = self._rituals(turn).shared_answers(current.id)
        messages = ritual_share.shared_messages(self._content.texts, current.kind, sharers, answers)
        event = turn.event
        group = couple.group
        courier = self._courier
        replies: list[Reply] = []
        here = event.chat.platform
        if group is not None and group.platform is here:
            via = next(p.user for p in couple.partners if p.user.platform is here)
            for key, values in messages:
                replies += courier.to_chat(turn, group, via, key, values)
            if not _same_chat(event.chat, group):
                replies += courier.to_person(turn, event.user, POSTED)
            return replies
        if group is None and all(p.user.platform is here for p in couple.partners):
            for partner in couple.partners:
                for key, values in messages:
                    replies += courier.to_person(turn, partner.user, key, values)
            return replies
        for partner in couple.partners:
            replies += courier.to_person(turn, partner.user, NEEDS_GROUP)
        return replies

    # ------------------------------------------------------------------ reminders

    def _schedule_reminder(self, turn: Turn, couple: Couple, opened: Round) -> None:
        """A neutral reminder a day after the round opened, carrying no one's words.

        To the group when one is linked and nobody is in safety mode; else to each
        partner not in safety mode, privately.
        """
        timers = TimerRepository(turn.connection)
        at = opened.opened_at + NUDGE_AFTER
        payload = {"say": nudge_key(opened.kind)}
        group_key, *own_keys = nudge_timer_keys(opened.id, couple)
        reachable = [p for p in couple.partners if not self._in_safety_mode(turn, p)]
        group = couple.group
        if group is not None:
            via = next((p for p in couple.partners if p.user.platform is group.platform), None)
            if via is not None and len(reachable) == len(couple.partners):
                timers.schedule(
                    group_key, at, payload, kind=ItemKind.REMINDER, user=via.user, chat=group
                )
            return
        for partner, key in zip(couple.partners, own_keys, strict=True):
            if partner in reachable:
                timers.schedule(key, at, payload, kind=ItemKind.REMINDER, user=partner.user)

    @staticmethod
    def _cancel_reminders(turn: Turn, couple: Couple, current: Round) -> None:
        cancel_round_reminders(turn.connection, couple, current.id)

    # ------------------------------------------------------------------ helpers

    def _rituals(self, turn: Turn) -> RitualRepository:
        return RitualRepository(turn.connection, self._cipher)

    def _current(
        self, turn: Turn, rituals: RitualRepository, couple: Couple, kind: RitualKind
    ) -> Round | None:
        """The couple's open round of ``kind``; one older than a week lapses first."""
        current = rituals.open_round(couple.id, kind)
        if current is not None and turn.now - current.opened_at >= ROUND_LIFETIME:
            rituals.close(current.id, turn.now)
            self._cancel_reminders(turn, couple, current)
            return None
        return current

    def _round_of(self, turn: Turn, kind: RitualKind) -> tuple[Partner, Round] | None:
        """The person and the open round their answer belongs to; None if there is none."""
        couple = CoupleRepository(turn.connection).couple_of(turn.event.user)
        if couple is None:
            return None
        me = couple.member(turn.event.user)
        rituals = self._rituals(turn)
        current = self._current(turn, rituals, couple, kind)
        if me is None or current is None or me.member_id in rituals.finished(current.id):
            return None
        return me, current

    @staticmethod
    def _in_safety_mode(turn: Turn, partner: Partner) -> bool:
        """The actor's mode as this turn left it; the other partner's as stored."""
        if partner.user == turn.event.user:
            return turn.profile.safety_mode
        return partner.safety_mode

    def _held(self, turn: Turn) -> StepResult | None:
        """A self-care reply for someone in safety mode; None when a ritual may go ahead."""
        if may_offer(turn.profile, Offer.GROUP_RITUAL):
            return None
        return self._private(turn, SELF_CARE)

    def _toast(self, key: str) -> Reply:
        """A brief note only the presser sees; nothing changes."""
        return replace(self._courier.say(key), toast=True)

    def _private(self, turn: Turn, key: str, values: Mapping[str, str] | None = None) -> StepResult:
        """Say ``key`` to the person alone (privately when they wrote in a group)."""
        replies = self._courier.to_person(turn, turn.event.user, key, values)
        return StepResult(tuple(replies), turn.state, turn.profile)
