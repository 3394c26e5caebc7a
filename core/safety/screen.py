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
    NO_SCOPE,
    Category,
    Cue,
)
from core.safety.normalize import normalize

__all__ = ["Category", "Screening", "screen"]

_PRIORITY = (Category.EMERGENCY, Category.SELF_HARM, Category.PARTNER_HARM)
_CATEGORY_OF = {cue.name: cue.category for cue in CUES}
_NEEDED = tuple(sorted({w for cue in CUES for part in cue.parts if part.needs for w in part.needs}))
"""Every string some pattern needs; each message is searched for them once, not per cue."""
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

    Walking back from the cue: "no" counts only straight before it or across words of
    :data:`NO_SCOPE` ("no thoughts of hurting myself"); "not", "never" and
    "nor" count across at most :data:`NEGATION_WINDOW` auxiliary-like words
    (:data:`NEGATION_SCOPE`). Any other word, or a clause boundary, stops the walk.
    """
    before = text[:start].split()[-(NEGATION_WINDOW + 1) :]
    only_no_scope = True
    for word in reversed(before):
        if word in NEGATIONS or (only_no_scope and word in ADJACENT_NEGATIONS):
            return True
        only_no_scope = only_no_scope and word in NO_SCOPE
        if word not in NEGATION_SCOPE and not only_no_scope:
            return False
    return False


def _matches(cue: Cue, text: str, present: frozenset[str]) -> bool:
    for part in cue.parts:
        if part.needs is not None and part.needs.isdisjoint(present):
            continue
        for match in part.pattern.finditer(text):
            if not (cue.negatable and _negated(text, match.start())):
                return cue.unless is None or cue.unless.search(text) is None
    return False


def screen(text: str) -> Screening:
    """Screen one message. Never raises; empty or odd input is simply ``none``."""
    normal = normalize(text)
    if not normal:
        return Screening(Category.NONE)
    present = frozenset(word for word in _NEEDED if word in normal)
    found = tuple(cue for cue in CUES if _matches(cue, normal, present))
    if not found:
        return Screening(Category.NONE)
    kinds = {cue.category for cue in found}
    category = next(kind for kind in _PRIORITY if kind in kinds)
    return Screening(category, tuple(cue.name for cue in found))
