"""``screen(text)``: which kind of danger, if any, a message shows. Deterministic and fast.

The screen errs toward asking: a false alarm costs a person one kind check-in, a miss can
cost far more. It reports the names of the cues it matched, never the text.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.safety.cues import (
    ADJACENT_NEGATIONS,
    CUES,
    NEGATION_SCOPE,
    NEGATION_WINDOW,
    NEGATIONS,
    Category,
    Cue,
)
from core.safety.normalize import normalize

__all__ = ["Category", "Screening", "screen"]

_PRIORITY = (Category.EMERGENCY, Category.SELF_HARM, Category.PARTNER_HARM)
_CATEGORY_OF = {cue.name: cue.category for cue in CUES}
MAX_SCREENED_CHARS = 4000
"""Longer messages are screened in full too, in slices of this size that overlap."""


@dataclass(frozen=True, slots=True)
class Screening:
    """The result of screening one message: a category and the cue names that led to it."""

    category: Category
    cues: tuple[str, ...] = ()

    @property
    def is_hit(self) -> bool:
        """True when the message shows any kind of danger."""
        return self.category is not Category.NONE

    @property
    def categories(self) -> frozenset[Category]:
        """Every category a matched cue belongs to (a message can show more than one)."""
        return frozenset(_CATEGORY_OF[name] for name in self.cues)


def _negated(text: str, start: int) -> bool:
    """Whether a negation reaches the cue starting at ``start``.

    Walking back from the cue: "no" counts only straight before it; "not", "never" and
    "nor" count across at most :data:`NEGATION_WINDOW` auxiliary-like words
    (:data:`NEGATION_SCOPE`). Any other word, or a clause boundary, stops the walk.
    """
    before = text[:start].split()[-(NEGATION_WINDOW + 1) :]
    for distance, word in enumerate(reversed(before)):
        if word in NEGATIONS or (distance == 0 and word in ADJACENT_NEGATIONS):
            return True
        if word not in NEGATION_SCOPE:
            return False
    return False


def _matches(cue: Cue, text: str) -> bool:
    for match in cue.pattern.finditer(text):
        if not (cue.negatable and _negated(text, match.start())):
            return cue.unless is None or cue.unless.search(text) is None
    return False


def screen(text: str) -> Screening:
    """Screen one message. Never raises; empty or odd input is simply ``none``."""
    normal = normalize(text)
    if not normal:
        return Screening(Category.NONE)
    found = tuple(cue for cue in CUES if _matches(cue, normal))
    if not found:
        return Screening(Category.NONE)
    kinds = {cue.category for cue in found}
    category = next(kind for kind in _PRIORITY if kind in kinds)
    return Screening(category, tuple(cue.name for cue in found))
