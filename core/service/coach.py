"""``CoachService.handle``: the single call every adapter makes for every event."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from sqlalchemy import Connection

from core import keys
from core.clock import Clock
from core.content import Content, ContentError
from core.flows.engine import FlowEngine, FlowState, StepResult
from core.flows.payload import decode
from core.flows.scope import state_key
from core.profile import Profile
from core.service.locks import KeyedLocks
from core.storage import (
    Database,
    StaleStateError,
    StateRepository,
    UserRepository,
    load_turn,
)
from core.types import EventKind, IncomingEvent, Reply

log = logging.getLogger(__name__)

ONBOARDING = "onboarding"
SETTINGS = "settings"
REQUIRED_FLOWS = (ONBOARDING, SETTINGS)

Handler = Callable[[IncomingEvent, Profile, FlowState | None, datetime], StepResult]


class CoachService:
    """Decides what Mend says in reply to anything a person does.

    Every event runs under a lock for its conversation and in one database transaction;
    if another process changed the conversation meanwhile, the turn is retried once and
    then the person is asked to try again.
    """

    def __init__(
        self, content: Content, database: Database, clock: Clock, *, default_timezone: str
    ) -> None:
        self._content = content
        self._database = database
        self._clock = clock
        self._default_timezone = default_timezone
        self._engine = FlowEngine(content, default_timezone=default_timezone)
        self._locks = KeyedLocks()
        # Interrupts first, in the design's order; they work in every state.
        self._commands: dict[str, Handler] = {
            "cancel": self._cancel,
            "help": self._help,
            "start": self._start,
            "settings": self._settings,
        }
        problems = [f"flow {f!r} is missing" for f in REQUIRED_FLOWS if f not in content.flows]
        listed = set(content.commands)
        problems += [f"command /{c} has no handler" for c in sorted(listed - set(self._commands))]
        problems += [
            f"command /{c} is not in commands.yaml" for c in sorted(set(self._commands) - listed)
        ]
        if problems:
            raise ContentError(problems)

    async def handle(self, event: IncomingEvent) -> list[Reply]:
        """Return the replies to ``event``, having stored whatever it changed."""
        if event.kind is EventKind.BOT_ADDED:
            return [] if event.chat.is_private else [self._say(keys.START_GROUP)]
        if event.kind in (EventKind.MEMBER_JOINED, EventKind.MEMBER_LEFT):
            return []
        if not event.chat.is_private and not event.addressed_to_bot:
            return []
        key = state_key("user_in_chat", event.chat, event.user)
        async with self._locks.hold(key):
            for _attempt in range(2):
                try:
                    return await self._turn(event, key)
                except StaleStateError:
                    log.info("conversation changed by another writer; retrying once")
            return [self._say(keys.BUSY)]

    async def _turn(self, event: IncomingEvent, key: str) -> list[Reply]:
        now = self._clock.now()
        return await self._database.run(lambda connection: self._apply(connection, event, key, now))

    def _apply(
        self, connection: Connection, event: IncomingEvent, key: str, now: datetime
    ) -> list[Reply]:
        """One turn inside one transaction: read, decide (pure), write what changed."""
        profile, stored = load_turn(connection, event.user, key, now)
        state = stored.state if self._engine.has(stored.state) else None
        result = self._route(event, profile, state, now)
        if result.profile != profile:
            UserRepository(connection).save(result.profile, now)
        if result.state != stored.state:
            StateRepository(connection).save(key, result.state, stored.version, now)
        return list(result.replies)

    def _route(
        self, event: IncomingEvent, profile: Profile, state: FlowState | None, now: datetime
    ) -> StepResult:
        if event.kind is EventKind.COMMAND:
            return self._command(event, profile, state, now)
        if event.kind is EventKind.BUTTON:
            return self._button(event, profile, state, now)
        return self._text(event, profile, state, now)

    def _command(
        self, event: IncomingEvent, profile: Profile, state: FlowState | None, now: datetime
    ) -> StepResult:
        name = event.command or ""
        spec = self._content.commands.get(name)
        if spec is None:
            reply = self._say(keys.UNKNOWN_COMMAND, profile, command=name[:32])
            return StepResult((reply,), state, profile)
        if spec.where == "private" and not event.chat.is_private:
            return StepResult((self._say(keys.PRIVATE_ONLY, profile),), state, profile)
        if spec.where == "group" and event.chat.is_private:
            return StepResult((self._say(keys.GROUP_ONLY, profile),), state, profile)
        return self._commands[name](event, profile, state, now)

    def _button(
        self, event: IncomingEvent, profile: Profile, state: FlowState | None, now: datetime
    ) -> StepResult:
        press = decode(event.payload or "")
        result = None
        if press is not None and state is not None:
            result = self._engine.press(state, press, profile, now)
        if result is not None:
            return result
        stale = replace(self._say(keys.STALE_BUTTON, profile), toast=True)
        return self._stay(state, profile, stale)

    def _text(
        self, event: IncomingEvent, profile: Profile, state: FlowState | None, now: datetime
    ) -> StepResult:
        if not event.text:
            return self._stay(state, profile, self._say(keys.EMPTY_TEXT, profile))
        if state is not None:
            return self._engine.answer(state, event.text, profile, now)
        return StepResult((self._pointer(profile),), None, profile)

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
