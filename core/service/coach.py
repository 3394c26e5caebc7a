"""``CoachService.handle``: the single call every adapter makes for every event."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from sqlalchemy import Connection

from core import keys
from core.clock import Clock
from core.content import Content, ContentError
from core.crypto import Cipher
from core.flows import effects
from core.flows.engine import FlowEngine, FlowState, StepResult
from core.flows.payload import decode
from core.flows.scope import state_key
from core.privacy import delete_person, export_person
from core.profile import Profile
from core.safety import Category, Screening, screen
from core.safety.resources import ResourceBook, load_resources
from core.safety.scope import ScopeQuestion, scope_question
from core.schedule.kinds import ItemKind
from core.service.breaks import BreakDesk
from core.service.courier import CoupleDesk, CoupleHandler, Courier, Turn
from core.service.desk import DeskKit
from core.service.draft_desk import DRAFT_FLOW
from core.service.locks import KeyedLocks
from core.service.nudges import NudgeDesk, NudgePress, Rendered, SkipReason
from core.service.pairing import PairingDesk, is_invite_start
from core.service.program import program_desks
from core.service.rituals import RitualDesk
from core.service.safety import (
    SafetyAction,
    SafetyDesk,
    decode_action,
    enters_safety_mode,
    with_safety_mode,
)
from core.storage import (
    Database,
    StaleStateError,
    StateRepository,
    UserRepository,
    load_turn,
)
from core.storage.couples import CoupleRepository
from core.storage.deliveries import Claimed
from core.storage.safety_plans import SafetyPlanRepository
from core.storage.subscriptions import SubscriptionRepository
from core.text_input import holds_word
from core.types import Attachment, EventKind, IncomingEvent, Reply

log = logging.getLogger(__name__)

ONBOARDING = "onboarding"
SETTINGS = "settings"
SAFETY_PLAN = "safety_plan"
DELETE = "delete"
REQUIRED_FLOWS = (ONBOARDING, SETTINGS, SAFETY_PLAN, DELETE)
SAFE_FLOWS = frozenset({SAFETY_PLAN})
"""Flows where a flagged answer is kept rather than interrupting: the person is already
writing about hard moments, with help on screen (a message about danger right now still
interrupts)."""
UNSCOPED_FLOWS = frozenset({DRAFT_FLOW})
"""Flows whose typed answer is a message meant for someone else (a draft to a partner):
"are you a robot?" in it is not a question for Mend, so it is never answered as one."""
EXPORT_FILENAME = "mend-export.json"

Handler = Callable[[IncomingEvent, Profile, FlowState | None, datetime], StepResult]
_NOT_SCREENED = Screening(Category.NONE, ())


def _free_text_of(event: IncomingEvent, content: Content) -> str:
    """What the safety screen reads: a message, or the words after a ``free_text`` command.

    A person's own words after ``/draft`` or ``/ouch`` are screened like any message; a
    command's length, code or code word (``/pause 20m``, ``/codeword safe``) is not.
    """
    if event.kind is EventKind.TEXT:
        return event.text
    spec = content.commands.get(event.command or "")
    if event.kind is EventKind.COMMAND and spec is not None and spec.free_text:
        return " ".join(event.args)
    return ""


def _schedule_of(profile: Profile) -> tuple[object, ...]:
    """The fields a person's daily step follows; a change to any of them reschedules it."""
    return (
        profile.onboarded_at,
        profile.daily_time,
        profile.timezone,
        profile.quiet_start,
        profile.quiet_end,
        profile.nudges_stopped,
        profile.unreachable_since,
    )


class CoachService:
    """Decides what Mend says in reply to anything a person does.

    Every event runs under a lock for its conversation and in one database transaction;
    if another process changed the conversation meanwhile, the turn is retried once and
    then the person is asked to try again.
    """

    def __init__(
        self,
        content: Content,
        database: Database,
        clock: Clock,
        *,
        cipher: Cipher,
        default_timezone: str,
        resources: ResourceBook | None = None,
        retention_days: int = 180,
        pause_cap: int = 3,
        code_choice: Callable[[str], str] | None = None,
    ) -> None:
        self._content = content
        self._database = database
        self._clock = clock
        self._cipher = cipher
        self._default_timezone = default_timezone
        self._retention_days = retention_days
        self._engine = FlowEngine(content, default_timezone=default_timezone)
        self._safety = SafetyDesk(
            content, resources or load_resources(), default_timezone=default_timezone
        )
        self._courier = Courier(content.texts)
        self._pairing = PairingDesk(
            content,
            self._courier,
            default_timezone=default_timezone,
            choose=code_choice or secrets.choice,
        )
        self._breaks = BreakDesk(
            content, self._courier, default_timezone=default_timezone, pause_cap=pause_cap
        )
        self._rituals = RitualDesk(
            content, self._courier, cipher, default_timezone=default_timezone
        )
        kit = DeskKit(
            content=content,
            courier=self._courier,
            cipher=cipher,
            flows=self._engine,
            default_timezone=default_timezone,
            safety_mode_on=self._safety_mode_on,
        )
        self._program = program_desks(kit)
        self._desks: tuple[CoupleDesk, ...] = (
            self._pairing,
            self._breaks,
            self._rituals,
            *self._program,
        )
        self._desk_commands: dict[str, CoupleHandler] = {
            name: handler for desk in self._desks for name, handler in desk.commands.items()
        }
        self._desk_commands["resume"] = self._resume
        self._nudges = NudgeDesk(content, default_timezone, couples=self._render_couple_item)
        self._locks = KeyedLocks()
        # Interrupts first, in the design's order; they work in every state.
        self._commands: dict[str, Handler] = {
            "safety": self._safety_command,
            "cancel": self._cancel,
            "help": self._help,
            "start": self._start,
            "settings": self._settings,
            "stop": self._stop,
            "privacy": self._privacy,
            "export": self._export,
            "delete": self._delete,
        }
        problems = [f"flow {f!r} is missing" for f in REQUIRED_FLOWS if f not in content.flows]
        listed = set(content.commands)
        handled = set(self._commands) | set(self._desk_commands)
        problems += [f"command /{c} has no handler" for c in sorted(listed - handled)]
        problems += [f"command /{c} is not in commands.yaml" for c in sorted(handled - listed)]
        if problems:
            raise ContentError(problems)

    def _render_couple_item(self, item: Claimed, now: datetime) -> Rendered | None:
        """Couple items the scheduler delivers: notices, and the way back after a break."""
        if item.kind is ItemKind.NOTICE:
            reply = self._courier.render(item)
            return Rendered(reply, None if reply else SkipReason.UNKNOWN_TEXT)
        return self._breaks.render(item, now)

    @property
    def nudges(self) -> NudgeDesk:
        """The desk that renders this service's timed messages, for the scheduler."""
        return self._nudges

    async def handle(self, event: IncomingEvent) -> list[Reply]:
        """Return the replies to ``event``, having stored whatever it changed."""
        if event.kind is EventKind.BOT_ADDED:
            return [] if event.chat.is_private else [self._say(keys.START_GROUP)]
        if event.kind in (EventKind.MEMBER_JOINED, EventKind.MEMBER_LEFT):
            return []
        # The safety screen runs first, on every free-text message, even group chatter
        # not meant for Mend: a disclosure there still deserves a careful answer.
        screening = screen(_free_text_of(event, self._content))
        # Group chatter not meant for Mend is answered only when a cue is sure: a guess of
        # the learned model is not reason enough to speak up uninvited.
        sure = screening.is_hit and not screening.tentative
        # Chatter not meant for Mend: only the couple's code word makes it Mend's business.
        if (
            not event.chat.is_private
            and not event.addressed_to_bot
            and not sure
            and (event.kind is not EventKind.TEXT or not await self._holds_codeword(event))
        ):
            return []
        key = state_key("user_in_chat", event.chat, event.user)
        async with self._locks.hold(key):
            for _attempt in range(2):
                try:
                    return await self._turn(event, key, screening)
                except StaleStateError:
                    log.info("conversation changed by another writer; retrying once")
            return [self._say(keys.BUSY)]

    async def _holds_codeword(self, event: IncomingEvent) -> bool:
        """True if one of the couple linked to this group wrote their code word in it.

        Anyone else's chatter is not Mend's business: no turn runs, nothing is stored.
        """
        word = await self._database.run(
            lambda connection: CoupleRepository(connection).codeword_for_member(
                event.chat, event.user
            )
        )
        return word is not None and holds_word(event.text, word)

    async def _turn(self, event: IncomingEvent, key: str, screening: Screening) -> list[Reply]:
        now = self._clock.now()
        return await self._database.run(
            lambda connection: self._apply(connection, event, key, now, screening)
        )

    def _apply(
        self,
        connection: Connection,
        event: IncomingEvent,
        key: str,
        now: datetime,
        screening: Screening,
    ) -> list[Reply]:
        """One turn inside one transaction: read, decide (pure), write what changed."""
        profile, stored = load_turn(connection, event.user, key, now)
        state = stored.state if self._engine.has(stored.state) else None
        turn = Turn(connection, event, profile, state, now)
        result = self._route(turn, screening)
        if result.profile.safety_mode and result.profile.safety_since is None:
            # A flow answer that points to abuse or fear switched safety mode on.
            result = replace(result, profile=replace(result.profile, safety_since=now))
        unreachable = result.profile.unreachable_since is not None
        if unreachable and event.chat.is_private and not screening.is_hit:
            # Their daily step was refused (blocked bot, closed DMs): say so once, here;
            # never in front of help after a worrying message (it waits for the next turn).
            notice, quiet = self._nudges.unreachable_notice(result.profile)
            result = replace(result, replies=(notice, *result.replies), profile=quiet)
        after = replace(turn, profile=result.profile, state=result.state)
        replies = list(result.replies)
        for note, text in result.notes:
            replies += self._keep(after, note, text)
        for action in result.actions:
            if action == effects.DELETE_PERSON:
                replies += self._pairing.farewell(after)
                delete_person(connection, event.user)
                return replies
            ritual = self._rituals.act(after, action)
            if ritual is not None:
                replies += ritual
                continue
            done = next(
                (r for desk in self._program if (r := desk.act(after, action)) is not None), None
            )
            if done is not None:
                replies += done
                continue
            replies += self._act(action, connection, event, result.profile, now)
        planned = self._nudges.refresh_plan(connection, profile, result.profile, now)
        if planned is not result.profile:  # the daily-step plan was (re)built
            result = replace(result, profile=planned)
        if result.profile != profile:
            UserRepository(connection).save(result.profile, now)
        if _schedule_of(result.profile) != _schedule_of(profile) and (
            profile.onboarded or result.profile.onboarded
        ):
            SubscriptionRepository(connection).follow(result.profile, self._default_timezone, now)
            heads_up = self._nudges.quiet_note(profile, result.profile)
            if heads_up is not None:
                replies.append(heads_up)
        if result.state != stored.state:
            StateRepository(connection).save(key, result.state, stored.version, now)
        return replies

    def _keep(self, turn: Turn, note: str, text: str) -> list[Reply]:
        """Hand a person's typed answer to the desk whose note it is (else the safety plan)."""
        if self._rituals.keep(turn, note, text):
            return []
        for desk in self._program:
            kept = desk.keep(turn, note, text)
            if kept is not None:
                return kept
        SafetyPlanRepository(turn.connection, self._cipher).save(
            turn.event.user, note, text, turn.now
        )
        return []

    def _safety_mode_on(self, profile: Profile, now: datetime) -> tuple[Profile, list[Reply]]:
        """Safety mode on after an answer pointing to abuse or fear, with help to hand."""
        return with_safety_mode(profile, now), self._safety.on_fear_answer(profile)

    def _act(
        self,
        action: str,
        connection: Connection,
        event: IncomingEvent,
        profile: Profile,
        now: datetime,
    ) -> list[Reply]:
        """Carry out an action that reads stored data, returning what to add to the turn."""
        private_to = None if event.chat.is_private else event.user
        if action == effects.EXPORT_PERSON:
            data = export_person(connection, event.user, self._cipher, now)
            reply = self._say(keys.EXPORT_READY, profile)
            attachment = Attachment(EXPORT_FILENAME, data, "application/json")
            return [replace(reply, attachment=attachment, private_to=private_to)]
        items = SafetyPlanRepository(connection, self._cipher).items(event.user)
        if action == effects.SHOW_SAFETY_PLAN:
            return [replace(self._safety.plan(profile, items), private_to=private_to)]
        if action == effects.SAFETY_STATUS:
            status = self._safety.mode_status(profile, plan_exists=bool(items))
            return [replace(status, private_to=private_to)]
        raise ValueError(f"unknown action {action!r}")

    def _route(self, turn: Turn, screening: Screening) -> StepResult:
        event, profile, state, now = turn.event, turn.profile, turn.state, turn.now
        if event.kind is EventKind.COMMAND:
            return self._screened_command(turn, screening)
        if event.kind is EventKind.BUTTON:
            return self._button(turn)
        return self._text(turn, event, profile, state, now, screening)

    def _screened_command(self, turn: Turn, screening: Screening) -> StepResult:
        """A command whose words (``/draft …``, ``/ouch …``) passed the safety screen first."""
        if screening.is_hit and (
            not screening.tentative or screening.category is Category.EMERGENCY
        ):
            return self._safety_hit(turn.event, turn.profile, turn.state, turn.now, screening)
        result = self._command(turn)
        if not screening.tentative:
            return result
        check = self._safety.gentle_check(result.profile)
        if not turn.event.chat.is_private:
            check = replace(check, private_to=turn.event.user)
        return replace(result, replies=(*result.replies, check))

    def _command(self, turn: Turn) -> StepResult:
        event, profile, state, now = turn.event, turn.profile, turn.state, turn.now
        name = event.command or ""
        spec = self._content.commands.get(name)
        if spec is None:
            reply = self._say(keys.UNKNOWN_COMMAND, profile, command=name[:32])
            return StepResult((reply,), state, profile)
        if spec.where == "private" and not event.chat.is_private:
            return StepResult((self._say(keys.PRIVATE_ONLY, profile),), state, profile)
        if spec.where == "group" and event.chat.is_private:
            return StepResult((self._say(keys.GROUP_ONLY, profile),), state, profile)
        if is_invite_start(event):  # a Telegram pairing deep link: /start pair_<code>
            return self._pairing.start_with_code(turn)
        desk_handler = self._desk_commands.get(name)
        if desk_handler is not None:
            return desk_handler(turn)
        return self._commands[name](event, profile, state, now)

    def _button(self, turn: Turn) -> StepResult:
        event, profile, state, now = turn.event, turn.profile, turn.state, turn.now
        for desk in self._desks:
            pressed = desk.press(turn)
            if pressed is not None:
                return pressed
        action = decode_action(event.payload or "")
        if action is not None:
            return self._safety_press(action, event, profile, state, now)
        nudge = self._nudges.decode(event.payload or "")
        if nudge is not None:
            return self._nudge_press(nudge, turn)
        press = decode(event.payload or "")
        result = None
        if press is not None and state is not None:
            result = self._engine.press(state, press, profile, now)
        if result is not None:
            return result
        stale = replace(self._say(keys.STALE_BUTTON, profile), toast=True)
        return self._stay(state, profile, stale)

    def _text(
        self,
        turn: Turn,
        event: IncomingEvent,
        profile: Profile,
        state: FlowState | None,
        now: datetime,
        screening: Screening,
    ) -> StepResult:
        if not event.text:
            return self._stay(state, profile, self._say(keys.EMPTY_TEXT, profile))
        if screening.tentative and screening.category is not Category.EMERGENCY:
            result = self._text(turn, event, profile, state, now, _NOT_SCREENED)
            check = self._safety.gentle_check(result.profile)
            if not event.chat.is_private:
                check = replace(check, private_to=event.user)
            return replace(result, replies=(*result.replies, check))
        if screening.is_hit:
            safe_flow = state is not None and state.flow in SAFE_FLOWS
            if not safe_flow or screening.category is Category.EMERGENCY:
                return self._safety_hit(event, profile, state, now, screening)
            if enters_safety_mode(screening):
                profile = with_safety_mode(profile, now)
        # The turn as it now stands: a flagged answer in a safe flow has switched safety
        # mode on, and a break called in the same message must not lose that.
        paused = self._breaks.codeword(replace(turn, profile=profile))
        if paused is not None:
            return paused
        unscoped = state is not None and state.flow in UNSCOPED_FLOWS
        question = None if unscoped else scope_question(event.text)
        if question is not None:
            key = (
                keys.SCOPE_DIAGNOSIS if question is ScopeQuestion.DIAGNOSIS else keys.SCOPE_IDENTITY
            )
            return self._stay(state, profile, self._say(key, profile))
        if state is not None:
            return self._engine.answer(state, event.text, profile, now)
        return StepResult((self._pointer(profile),), None, profile)

    def _safety_hit(
        self,
        event: IncomingEvent,
        profile: Profile,
        state: FlowState | None,
        now: datetime,
        screening: Screening,
    ) -> StepResult:
        """The normal flow stops for this turn; the person's place in it is kept."""
        # Partners of the writer arrive with pairing; until then only the writer is known.
        replies = self._safety.on_hit(screening, event.chat, profile)
        if enters_safety_mode(screening):
            profile = with_safety_mode(profile, now)
        return StepResult(tuple(replies), state, profile)

    def _safety_press(
        self,
        action: SafetyAction,
        event: IncomingEvent,
        profile: Profile,
        state: FlowState | None,
        now: datetime,
    ) -> StepResult:
        """A safety button: works from any message, in any state, without changing it."""
        desk = self._safety
        if action is SafetyAction.PLAN:
            return self._engine.start(SAFETY_PLAN, profile, now)
        if action is SafetyAction.SEE_PLAN:
            return StepResult((), state, profile, actions=(effects.SHOW_SAFETY_PLAN,))
        if action is SafetyAction.MODE_START:
            started = with_safety_mode(profile, now)
            return StepResult(tuple(desk.mode_started(started)), state, started)
        if action is SafetyAction.MODE_END_YES:
            if not profile.safety_mode:
                return StepResult(tuple(desk.mode_ended(profile)), state, profile)
            ended = replace(profile, safety_mode=False, safety_since=None)
            return StepResult(tuple(desk.mode_ended(ended)), state, ended)
        replies = {
            SafetyAction.SAFE: desk.safe,
            SafetyAction.UNSAFE: desk.unsafe,
            SafetyAction.GROUND: desk.grounding,
            SafetyAction.MODE_END: desk.mode_end_ask,
            SafetyAction.MODE_KEEP: desk.mode_kept,
        }[action](profile)
        return StepResult(tuple(replies), state, profile)

    def _nudge_press(self, press: NudgePress, turn: Turn) -> StepResult:
        """A button under a daily step or check-in: works anywhere, keeps the flow's state."""
        replies, profile = self._nudges.press(press, turn)
        if not turn.event.chat.is_private:
            replies = [replace(r, private_to=turn.event.user) for r in replies]
        return StepResult(tuple(replies), turn.state, profile)

    def _cancel(
        self, event: IncomingEvent, profile: Profile, state: FlowState | None, now: datetime
    ) -> StepResult:
        key = keys.CANCEL_DONE if state is not None else keys.CANCEL_NOTHING
        return StepResult((self._say(key, profile),), None, profile)

    def _help(
        self, event: IncomingEvent, profile: Profile, state: FlowState | None, now: datetime
    ) -> StepResult:
        texts = self._content.texts
        lines = [texts.render(keys.HELP_HEADER, self._values(profile))]
        for group in self._content.command_groups:
            visible = [
                c
                for c in group.commands
                if c.where == "everywhere" or (c.where == "private") == event.chat.is_private
            ]
            if not visible:
                continue
            lines.append("")
            lines.append(texts.render(group.title))
            lines.extend(
                texts.render(
                    keys.HELP_LINE,
                    {"command": c.name, "description": texts.render(c.description)},
                )
                for c in visible
            )
        if state is not None:
            lines += ["", texts.render(keys.HELP_IN_FLOW)]
        return StepResult((Reply(text="\n".join(lines), key=keys.HELP_HEADER),), state, profile)

    def _start(
        self, event: IncomingEvent, profile: Profile, state: FlowState | None, now: datetime
    ) -> StepResult:
        if not event.chat.is_private:
            return StepResult((self._say(keys.START_GROUP, profile),), state, profile)
        if state is not None and state.flow == ONBOARDING:
            resume = self._say(keys.START_RESUME, profile)
            return StepResult((resume, *self._engine.show(state, profile)), state, profile)
        if profile.onboarded:
            return StepResult((self._say(keys.START_WELCOME_BACK, profile),), state, profile)
        return self._engine.start(ONBOARDING, profile, now)

    def _settings(
        self, event: IncomingEvent, profile: Profile, state: FlowState | None, now: datetime
    ) -> StepResult:
        if not profile.onboarded:
            return StepResult((self._say(keys.SETTINGS_NEEDS_START, profile),), state, profile)
        return self._engine.start(SETTINGS, profile, now)

    def _stop(
        self, event: IncomingEvent, profile: Profile, state: FlowState | None, now: datetime
    ) -> StepResult:
        """No more daily or weekly nudges; everything else keeps working."""
        reply, stopped = self._nudges.stop(profile)
        return StepResult((reply,), state, stopped)

    def _resume(self, turn: Turn) -> StepResult:
        """Nudges on again, with when the next one comes (past a day that had its step)."""
        taken = SubscriptionRepository(turn.connection).taken_days(
            turn.profile.user, ItemKind.MORNING
        )
        reply, resumed = self._nudges.resume(turn.profile, turn.now, taken=taken)
        return StepResult((reply,), turn.state, resumed)

    def _safety_command(
        self, event: IncomingEvent, profile: Profile, state: FlowState | None, now: datetime
    ) -> StepResult:
        """Tips, resources and safety mode: privately, in any state, even during a break."""
        replies = self._safety.safety_command(profile)
        if not event.chat.is_private:
            replies = [replace(r, private_to=event.user) for r in replies]
        return StepResult(tuple(replies), state, profile, actions=(effects.SAFETY_STATUS,))

    def _privacy(
        self, event: IncomingEvent, profile: Profile, state: FlowState | None, now: datetime
    ) -> StepResult:
        reply = self._say(keys.PRIVACY_SUMMARY, profile, retention_days=str(self._retention_days))
        return StepResult((reply,), state, profile)

    def _export(
        self, event: IncomingEvent, profile: Profile, state: FlowState | None, now: datetime
    ) -> StepResult:
        return StepResult((), state, profile, actions=(effects.EXPORT_PERSON,))

    def _delete(
        self, event: IncomingEvent, profile: Profile, state: FlowState | None, now: datetime
    ) -> StepResult:
        return self._engine.start(DELETE, profile, now)

    def _stay(self, state: FlowState | None, profile: Profile, first: Reply) -> StepResult:
        """Say ``first`` and, inside a flow, repeat the step so the person can carry on."""
        again = self._engine.show(state, profile) if state is not None else ()
        return StepResult((first, *again), state, profile)

    def _pointer(self, profile: Profile) -> Reply:
        return self._say(keys.POINTER if profile.onboarded else keys.POINTER_NEW, profile)

    def _values(self, profile: Profile | None) -> dict[str, str]:
        return profile.placeholders(self._default_timezone) if profile else {}

    def _say(self, key: str, profile: Profile | None = None, **extra: str) -> Reply:
        values = {**self._values(profile), **extra}
        return Reply(text=self._content.texts.render(key, values), key=key)
