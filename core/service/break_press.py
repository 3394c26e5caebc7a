"""Button payloads of the break protocol: ``b:<verb>[:<number>]``, short enough for Telegram."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

PREFIX = "b"
"""Every break button's payload starts with ``b:``."""


class BreakVerb(StrEnum):
    """What a break button asks for."""

    CALMER = "calm"
    """The wait's "I'm calmer now" (the break's id follows)."""
    READY = "ready"
    """The way back's "Ready" (the break's id follows)."""
    MORE = "more"
    """More time: 20 minutes more (the break's id follows)."""
    TOMORROW = "tmrw"
    """Let's continue tomorrow: the 24-hour rule (the break's id follows)."""
    SIGN = "sign"
    """The caller signs the group notice with their name (the break's id follows)."""
    STEP_AWAY = "solo"
    """After the cap: a break alone, privately (the minutes asked for follow)."""
    PAUSE = "pause"
    """From ``/again``: a break like ``/pause`` on its own (nothing follows)."""


@dataclass(frozen=True, slots=True)
class BreakPress:
    """A decoded break button: the verb and its number (a break id, or minutes)."""

    verb: BreakVerb
    number: int | None = None


def encode(verb: BreakVerb, number: int | None = None) -> str:
    """The payload for ``verb`` (and its number)."""
    return f"{PREFIX}:{verb.value}" if number is None else f"{PREFIX}:{verb.value}:{number}"


def decode(payload: str) -> BreakPress | None:
    """The break button behind ``payload``, or None if it is not a well-formed break button."""
    parts = payload.split(":")
    if len(parts) not in (2, 3) or parts[0] != PREFIX:
        return None
    try:
        verb = BreakVerb(parts[1])
    except ValueError:
        return None
    needs_number = verb is not BreakVerb.PAUSE
    if len(parts) == 2:
        return None if needs_number else BreakPress(verb)
    if not needs_number or not parts[2].isdigit() or len(parts[2]) > 12:
        return None
    return BreakPress(verb, int(parts[2]))
