"""Addressing messages to people other than the one who acted, and to a couple's group.

A couple handler says who a message is for; the courier decides how it travels. On the
platform the event came from it becomes a ``Reply`` the adapter delivers at once (to the
partner's private chat, or to the group). A partner or group on another platform is reached
through the send queue as a ``notice`` item, which that platform's sender delivers within
seconds. A notice carries a text key and its values, never anyone's free text.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol

from sqlalchemy import Connection

from core.content import Texts
from core.flows.engine import FlowState, StepResult
from core.profile import Profile
from core.schedule.kinds import ItemKind
from core.storage.deliveries import Claimed, TimerRepository
from core.types import Button, ChatRef, IncomingEvent, Reply, UserRef

ButtonSpec = tuple[str, str]
"""A button as ``(label text key, payload)``."""

_RESERVED = frozenset({"say", "buttons"})


@dataclass(frozen=True, slots=True)
class Turn:
    """What a couple handler may read in one turn, inside the turn's transaction."""

    connection: Connection
    event: IncomingEvent
    profile: Profile
    state: FlowState | None
    now: datetime


class Courier:
    """Renders texts and addresses them: replies where Mend can, queued notices elsewhere."""

    def __init__(self, texts: Texts) -> None:
        self._texts = texts

    def say(
        self,
        key: str,
        values: Mapping[str, str] | None = None,
        buttons: Sequence[ButtonSpec] = (),
    ) -> Reply:
        """A reply in the event's own chat."""
        shown = tuple(
            Button(self._texts.render(label, values), payload) for label, payload in buttons
        )
        return Reply(text=self._texts.render(key, values), key=key, buttons=shown)

    def to_person(
        self,
        turn: Turn,
        user: UserRef,
        key: str,
        values: Mapping[str, str] | None = None,
        buttons: Sequence[ButtonSpec] = (),
    ) -> list[Reply]:
        """A private message for ``user`` (the actor or someone else)."""
        reply = self.say(key, values, buttons)
        event = turn.event
        if user == event.user and event.chat.is_private:
            return [reply]
        if user.platform is event.chat.platform:
            return [replace(reply, private_to=user)]
        self._queue(turn, user, None, key, values, buttons)
        return []

    def to_chat(
        self,
        turn: Turn,
        chat: ChatRef,
        via: UserRef,
        key: str,
        values: Mapping[str, str] | None = None,
        buttons: Sequence[ButtonSpec] = (),
    ) -> list[Reply]:
        """A message for a group chat; ``via`` is a partner on the group's platform."""
        reply = self.say(key, values, buttons)
        event = turn.event
        if chat == event.chat:
            return [reply]
        if chat.platform is event.chat.platform:
            return [replace(reply, chat=chat)]
        self._queue(turn, via, chat, key, values, buttons)
        return []

    def render(self, item: Claimed) -> Reply | None:
        """The message of a queued notice, or None if its text no longer exists."""
        key = item.payload.get("say", "")
        if key not in self._texts.by_key:
            return None
        values = {k: v for k, v in item.payload.items() if k not in _RESERVED}
        try:
            raw = json.loads(item.payload.get("buttons", "[]"))
        except ValueError:
            raw = []
        buttons = [
            (str(b[0]), str(b[1]))
            for b in raw
            if isinstance(b, list) and len(b) == 2 and str(b[0]) in self._texts.by_key
        ]
        return self.say(key, values, buttons)

    @staticmethod
    def _queue(
        turn: Turn,
        user: UserRef,
        chat: ChatRef | None,
        key: str,
        values: Mapping[str, str] | None,
        buttons: Sequence[ButtonSpec],
    ) -> None:
        payload = {k: v for k, v in (values or {}).items() if k not in _RESERVED}
        payload["say"] = key
        if buttons:
            payload["buttons"] = json.dumps([list(b) for b in buttons])
        TimerRepository(turn.connection).schedule(
            f"notice:{uuid.uuid4().hex}",
            turn.now,
            payload,
            kind=ItemKind.NOTICE,
            user=user,
            chat=chat,
        )


CoupleHandler = Callable[[Turn], StepResult]
"""A command handler that may read and write couple data in the turn's transaction."""


class CoupleDesk(Protocol):
    """What the service asks of each couple desk (pairing, breaks, rituals)."""

    @property
    def commands(self) -> Mapping[str, CoupleHandler]:
        """The slash commands this desk answers, by name (without the slash)."""
        ...

    def press(self, turn: Turn) -> StepResult | None:
        """Answer a button press whose payload belongs to this desk; None otherwise."""
        ...
