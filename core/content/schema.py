"""The shape of content files, checked strictly: an unknown key fails the load."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

_STRICT = ConfigDict(extra="forbid", frozen=True)
IDENT = r"^[a-z][a-z0-9_]{0,31}$"
MAX_NOTE_CHARS = 500
"""Longest answer a note step keeps unless it says otherwise (``max_chars``); a longer one
is asked again, never cut silently."""


class ButtonSpec(BaseModel):
    """A choice under a step: its label key, the choice sent back, and where it leads."""

    model_config = _STRICT

    label: str
    choice: str = Field(pattern=IDENT)
    next: str | None = None
    set: dict[str, str] = Field(default_factory=dict)


class InputSpec(BaseModel):
    """A step that waits for typed text of one kind, then moves on."""

    model_config = _STRICT

    kind: Literal["timezone", "local_time", "note"]
    next: str
    invalid: str
    note: str | None = None
    """For ``kind: note``: where the person's words are kept (``core.flows.effects.NOTES``)."""
    max_chars: int = Field(default=MAX_NOTE_CHARS, ge=1, le=4000)
    """For ``kind: note``: the longest answer taken; a longer one is asked again."""


class StepSpec(BaseModel):
    """One step of a flow: what Mend says, and what may happen next.

    Exactly one of ``buttons``, ``input``, ``next`` or ``end`` decides what follows.
    ``effect`` changes the profile on entry (pure); ``action`` asks the service to do
    something with stored data on entry (such as deleting everything about the person).
    """

    model_config = _STRICT

    say: str
    buttons: tuple[ButtonSpec, ...] = ()
    input: InputSpec | None = None
    next: str | None = None
    end: bool = False
    effect: str | None = None
    action: str | None = None


class FlowSpec(BaseModel):
    """A conversation: its scope, first step and steps by id."""

    model_config = _STRICT

    id: str = Field(pattern=IDENT)
    scope: Literal["user", "user_in_chat", "chat"]
    start: str
    steps: dict[str, StepSpec]


class CommandSpec(BaseModel):
    """One slash command: name, the key of its description, and where it works."""

    model_config = _STRICT

    name: str = Field(pattern=IDENT)
    description: str
    where: Literal["private", "group", "everywhere"] = "everywhere"
    free_text: bool = False
    """The words after the command are a person's own text (``/draft …``): they pass the
    safety screen like a message. Other commands' arguments (a length, a code) do not."""


class CommandGroupSpec(BaseModel):
    """Commands shown together under one heading in /help."""

    model_config = _STRICT

    title: str
    commands: tuple[CommandSpec, ...]


class CommandsFile(BaseModel):
    """``content/commands.yaml``."""

    model_config = _STRICT

    groups: tuple[CommandGroupSpec, ...]
