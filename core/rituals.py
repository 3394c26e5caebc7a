"""Shared rituals as the core sees them: their kinds, the answers each asks for, and rounds.

Flows name a ritual answer with a note ``<kind>.<item>`` and ask for what happens to it
with actions: ``<kind>.share.<item>`` (share one answer), ``<kind>.finish.shared`` (share
every answer, then finish) and ``<kind>.finish`` (finish, sharing what was chosen so far).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class RitualKind(StrEnum):
    """A shared ritual."""

    CHECKIN = "checkin"
    """The weekly check-in: appreciations, what went well, one topic, a need."""
    REPAIR = "repair"
    """The walk-through after a hard fight: feelings, view, triggers, own part, change."""


ITEMS: dict[RitualKind, tuple[str, ...]] = {
    RitualKind.CHECKIN: ("appreciation", "went_well", "talk_about", "need"),
    RitualKind.REPAIR: ("feelings", "view", "triggers", "own_part", "differently"),
}
"""The answers each ritual asks for, in the order they are asked and shown."""

FINISH = "finish"
SHARE = "share"
SHARED = "shared"


def note_name(kind: RitualKind, item: str) -> str:
    """The note a flow's ``kind: note`` input names to keep one ritual answer."""
    return f"{kind.value}.{item}"


RITUAL_NOTES: frozenset[str] = frozenset(
    note_name(kind, item) for kind, items in ITEMS.items() for item in items
)
"""Every note a ritual answer may be kept under."""

RITUAL_ACTIONS: frozenset[str] = frozenset(
    {f"{kind.value}.{FINISH}" for kind in RitualKind}
    | {f"{kind.value}.{FINISH}.{SHARED}" for kind in RitualKind}
    | {f"{kind.value}.{SHARE}.{item}" for kind, items in ITEMS.items() for item in items}
)
"""Every action a ritual flow may name."""


def parse_note(note: str) -> tuple[RitualKind, str] | None:
    """The ritual and item of a note, or None if the note is not a ritual answer's."""
    if note not in RITUAL_NOTES:
        return None
    kind, item = note.split(".", 1)
    return RitualKind(kind), item


@dataclass(frozen=True, slots=True)
class RitualAction:
    """A decoded ritual action.

    Attributes:
        kind: which ritual.
        finish: True when the person has finished their part.
        share: the item to share, ``"*"`` for every answer, or None.
    """

    kind: RitualKind
    finish: bool
    share: str | None


ALL_ITEMS = "*"
"""``RitualAction.share`` value meaning every answer the person gave."""


def parse_action(action: str) -> RitualAction | None:
    """The ritual action named ``action``, or None if it is not a ritual's."""
    if action not in RITUAL_ACTIONS:
        return None
    parts = action.split(".")
    kind = RitualKind(parts[0])
    if parts[1] == FINISH:
        return RitualAction(kind, True, ALL_ITEMS if len(parts) == 3 else None)
    return RitualAction(kind, False, parts[2])


@dataclass(frozen=True, slots=True)
class Round:
    """One round of a ritual for a couple.

    Attributes:
        id: the round's row.
        couple_id: the couple's row.
        kind: which ritual.
        opened_at: when it was opened.
        closed_at: when both had finished (or it lapsed), or None while open.
    """

    id: int
    couple_id: int
    kind: RitualKind
    opened_at: datetime
    closed_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Answer:
    """One partner's answer in a round, decrypted.

    Attributes:
        member_id: the partner's ``users.id``.
        item: which question it answers.
        text: their words.
        shared: True if they chose to share it.
    """

    member_id: int
    item: str
    text: str
    shared: bool
