"""What every desk of the service offers, and what a programme desk is built with.

A desk owns some slash commands and button payloads (the couple desks: pairing, breaks,
rituals; the programme desks: phases, promises, the journal, ``/draft`` and more). The
programme desks may also own flow notes (``Desk.keep``: a person's typed answer) and flow
actions (``Desk.act``), named in ``core.program.names``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from core.content import Content
from core.crypto import Cipher
from core.flows.engine import FlowEngine, StepResult
from core.profile import Profile
from core.service.courier import CoupleHandler, Courier, Turn
from core.types import Reply

__all__ = ["DeskKit", "ProgramDesk", "missing_content"]


def missing_content(
    content: Content, text_keys: Iterable[str], flows: Iterable[str] = ()
) -> list[str]:
    """What a desk needs from ``content`` that is not there, as load problems.

    Each desk calls this when built and raises ``ContentError`` with the list (plus any
    checks of its own), so a missing text or flow stops start-up, never a conversation.
    """
    problems = [f"flow {f!r} is missing" for f in flows if f not in content.flows]
    texts = content.texts.by_key
    return problems + [f"code: text key {k!r} is missing" for k in text_keys if k not in texts]


@dataclass(frozen=True, slots=True)
class DeskKit:
    """What the service hands each programme desk.

    Attributes:
        content: the loaded content (texts, flows, the programme files).
        courier: renders texts as replies.
        cipher: seals and opens a person's free text for storage.
        flows: the flow engine, to start a programme flow (``flows.start(id, profile, now)``).
        default_timezone: the zone for people who have not chosen one.
        safety_mode_on: switches safety mode on for a person and returns the profile and
            what to say (acknowledgement, help, crisis lines): for answers that point to
            abuse or fear.
    """

    content: Content
    courier: Courier
    cipher: Cipher
    flows: FlowEngine
    default_timezone: str
    safety_mode_on: Callable[[Profile, datetime], tuple[Profile, list[Reply]]]


class ProgramDesk:
    """A desk of the repair programme: commands, buttons, notes and actions it owns.

    Subclasses override what they need; every hook answers None for what is not theirs.
    """

    @property
    def commands(self) -> Mapping[str, CoupleHandler]:
        """The slash commands this desk answers, by name (without the slash)."""
        return {}

    def press(self, turn: Turn) -> StepResult | None:
        """Answer a button press whose payload belongs to this desk; None otherwise."""
        return None

    def keep(self, turn: Turn, note: str, text: str) -> list[Reply] | None:
        """Take a person's typed answer for ``note``; None if the note is not this desk's.

        ``turn`` holds the profile and state after the flow moved on. The replies are said
        after the flow's own.
        """
        return None

    def act(self, turn: Turn, action: str) -> list[Reply] | None:
        """Carry out a flow ``action``; None if it is not this desk's."""
        return None
