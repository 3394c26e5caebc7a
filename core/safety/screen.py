"""``screen(text)``: which kind of danger, if any, a message shows. Deterministic and fast.

The screen errs toward asking: a false alarm costs a person one kind check-in, a miss can
cost far more. It reports the names of the cues it matched, never the text.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from core.safety.cues import (
    ADJACENT_NEGATIONS,
    BENIGN,
    CUES,
    NEGATION_SCOPE,
    NEGATION_WINDOW,
    NEGATIONS,
    NO_SCOPE,
    Category,
    Cue,
)
from core.safety.learned import LEARNED
from core.safety.normalize import normalize

__all__ = ["Category", "Screening", "screen"]

_PRIORITY = (Category.EMERGENCY, Category.SELF_HARM, Category.PARTNER_HARM)
_CATEGORY_OF = {cue.name: cue.category for cue in CUES} | {
    f"learned_{kind.value}": kind for kind in Category if kind is not Category.NONE
}
_NEEDED = tuple(sorted({w for cue in CUES for part in cue.parts if part.needs for w in part.needs}))
"""Every string some pattern needs; each message is searched for them once, not per cue."""
_ALWAYS = frozenset(i for i, cue in enumerate(CUES) if any(p.needs is None for p in cue.parts))
_CUES_NEEDING = {
    word: frozenset(
        i for i, cue in enumerate(CUES) if any(p.needs and word in p.needs for p in cue.parts)
    )
    for word in _NEEDED
}
"""Which cues (by position) have a part that may match when ``word`` is present: a cue
with none of its words in a message cannot match it and is not looked at."""
LEARNED_PREFIX = "learned_"
"""Cue names the learned model reports: ``learned_self_harm`` and so on."""


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
    def tentative(self) -> bool:
        """True for a hit only the learned model saw: no cue matched, so it may be wrong.

        Mend asks gently about such a message instead of stopping the conversation.
        """
        return self.is_hit and all(name.startswith(LEARNED_PREFIX) for name in self.cues)

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


class _Seen(Enum):
    """What a cue made of a message: nothing, a match, or a match it then ruled out."""

    NOTHING = 0
    MATCHED = 1
    RULED_OUT = 2


def _matches(cue: Cue, text: str, present: frozenset[str]) -> _Seen:
    seen = _Seen.NOTHING
    for part in cue.parts:
        if part.needs is not None and part.needs.isdisjoint(present):
            continue
        for match in part.pattern.finditer(text):
            if cue.negatable and _negated(text, match.start()):
                seen = _Seen.RULED_OUT
                continue
            if cue.unless is None or cue.unless.search(text) is None:
                return _Seen.MATCHED
            return _Seen.RULED_OUT
    return seen


def screen(text: str) -> Screening:
    """Screen one message. Never raises; empty or odd input is simply ``none``."""
    normal = normalize(text)
    if not normal:
        return Screening(Category.NONE)
    present = frozenset(word for word in _NEEDED if word in normal)
    candidates = _ALWAYS.union(*(_CUES_NEEDING[word] for word in present))
    seen = [(CUES[i], _matches(CUES[i], normal, present)) for i in sorted(candidates)]
    found = tuple(cue for cue, verdict in seen if verdict is _Seen.MATCHED)
    if not found:
        ruled_out = any(verdict is _Seen.RULED_OUT for _, verdict in seen)
        if ruled_out or BENIGN.search(normal):
            # A cue recognised the idea and a negation, a joke or a past that is over ruled
            # it out, or the wording is a known harmless one: the model, which reads no
            # such context, does not overrule the lexicon.
            return Screening(Category.NONE)
        learned = LEARNED.judge(normal)
        if learned is Category.NONE:
            return Screening(Category.NONE)
        return Screening(learned, (f"{LEARNED_PREFIX}{learned.value}",))
    kinds = {cue.category for cue in found}
    category = next(kind for kind in _PRIORITY if kind in kinds)
    return Screening(category, tuple(cue.name for cue in found))
