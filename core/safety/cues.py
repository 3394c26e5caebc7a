"""The cues the safety screen looks for, loaded from ``cues.yaml`` beside this module.

Each cue has a name (reported instead of the text), a category and alternative patterns on
normalised text. The lexicon is data so it can be read and extended without touching code;
a bad pattern or an unknown category fails at import, and a test.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml

CUES_FILE = Path(__file__).with_name("cues.yaml")


class Category(StrEnum):
    """What a message may show, most urgent first."""

    EMERGENCY = "emergency"
    SELF_HARM = "self_harm"
    PARTNER_HARM = "partner_harm"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class Cue:
    """One named sign of risk: any of its patterns matching counts."""

    name: str
    category: Category
    pattern: re.Pattern[str]
    negatable: bool = False


NEGATIONS = re.compile(r"\b(not|never|no|nor|without|cannot|nothing)\b")
"""Words that, shortly before a negatable cue, cancel it."""

NEGATION_WINDOW = 4
"""How many words before a cue a negation may stand."""


class CueError(ValueError):
    """``cues.yaml`` is malformed; the message names the cue."""


def _cue(entry: dict[str, Any], groups: dict[str, str]) -> Cue:
    name = str(entry.get("name", "?"))
    try:
        category = Category(entry["category"])
        patterns = [str(p).format(**groups) for p in entry["patterns"]]
        if category is Category.NONE or not patterns:
            raise ValueError("needs a danger category and at least one pattern")
        pattern = re.compile("|".join(f"(?:{p})" for p in patterns))
    except (KeyError, TypeError, ValueError, re.error) as exc:
        raise CueError(f"cue {name!r}: {exc}") from None
    return Cue(name, category, pattern, bool(entry.get("negatable", False)))


def load_cues(path: Path = CUES_FILE) -> tuple[Cue, ...]:
    """Read and compile every cue.

    Raises:
        CueError: naming the first malformed cue, or a name used twice.
    """
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    groups = {str(k): str(v) for k, v in data["groups"].items()}
    cues = tuple(_cue(entry, groups) for entry in data["cues"])
    names = [cue.name for cue in cues]
    if len(set(names)) != len(names):
        raise CueError("two cues share a name")
    return cues


CUES: tuple[Cue, ...] = load_cues()
"""Every cue, in file order."""
