"""The learned half of the safety screen: a small linear model over words and letter groups.

The cues in ``cues.yaml`` are precise and explainable, but each new set of messages showed
that phrasings nobody wrote a cue for slip past them. This model is trained on every
labelled example Mend has (``python -m core.safety.training``) and catches the wider
family of wordings: the cues decide first, and the model speaks only when they found
nothing. It is deterministic and pure Python at run time: a message's features are its
words, its pairs of neighbouring words and the four-letter groups of each word, looked up
in a table of weights shipped as ``learned.json``.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from core.safety.cues import Category
from core.safety.normalize import BOUNDARY

__all__ = ["LEARNED", "MODEL_FILE", "LearnedScreen", "features", "load_learned"]

MODEL_FILE = Path(__file__).with_name("learned.json")
LETTER_GROUP = 4
"""Length of the letter groups taken from each word (padded with a space at each end)."""


def features(normal: str) -> frozenset[str]:
    """The features of normalised text: ``w:`` words, ``b:`` word pairs, ``c:`` letter groups.

    Word pairs never cross a clause boundary, so "not , i want" does not pair "not" with "i".
    """
    found: set[str] = set()
    for clause in normal.split(BOUNDARY):
        words = clause.split()
        for word in words:
            found.add("w:" + word)
            padded = f" {word} "
            for start in range(len(padded) - LETTER_GROUP + 1):
                found.add("c:" + padded[start : start + LETTER_GROUP])
        for first, second in itertools.pairwise(words):
            found.add(f"b:{first} {second}")
    return frozenset(found)


@dataclass(frozen=True, slots=True)
class LearnedScreen:
    """A multinomial logistic model: one weight per feature and category, and a threshold.

    A message counts as a risk when the probability that it is ``none`` falls to
    ``1 - threshold`` or below; its category is then the most likely of the others.
    """

    classes: tuple[Category, ...]
    intercepts: tuple[float, ...]
    weights: Mapping[str, tuple[float, ...]]
    threshold: float

    def probabilities(self, normal: str) -> dict[Category, float]:
        """Each category's probability for normalised text."""
        known = [self.weights[name] for name in features(normal) if name in self.weights]
        totals = [math.fsum(column) for column in zip(*known, strict=True)] if known else []
        scale = 1.0 / math.sqrt(len(known)) if known else 0.0
        logits = [
            intercept + scale * (totals[index] if totals else 0.0)
            for index, intercept in enumerate(self.intercepts)
        ]
        top = max(logits)
        exps = [math.exp(logit - top) for logit in logits]
        total = sum(exps)
        return {kind: exp / total for kind, exp in zip(self.classes, exps, strict=True)}

    def judge(self, normal: str) -> Category:
        """The category the model gives normalised text: ``none`` below its threshold."""
        chances = self.probabilities(normal)
        if 1.0 - chances[Category.NONE] < self.threshold:
            return Category.NONE
        risks = [kind for kind in self.classes if kind is not Category.NONE]
        return max(risks, key=lambda kind: chances[kind])


def load_learned(path: Path = MODEL_FILE) -> LearnedScreen:
    """Read a model written by :mod:`core.safety.training`."""
    data = json.loads(path.read_text(encoding="utf-8"))
    classes = tuple(Category(name) for name in data["classes"])
    width = len(classes)
    weights = {name: tuple(float(w) for w in row) for name, row in data["weights"].items()}
    if Category.NONE not in classes or any(len(row) != width for row in weights.values()):
        raise ValueError(f"{path.name}: malformed safety model")
    return LearnedScreen(
        classes=classes,
        intercepts=tuple(float(b) for b in data["intercepts"]),
        weights=weights,
        threshold=float(data["threshold"]),
    )


LEARNED: LearnedScreen = load_learned()
"""The shipped model, read at import (about 0.1 s) like the cues, never on a message."""
