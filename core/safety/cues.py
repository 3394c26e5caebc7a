"""The cues the safety screen looks for, loaded from ``cues.yaml`` beside this module.

Each cue has a name (reported instead of the text), a category and alternative patterns on
normalised text; optionally ``negatable`` (a negation just before a match cancels it) and
``unless`` (patterns that, found anywhere in the message, cancel the cue: a past that is
over, fiction, a joke). The lexicon is data so it can be read and extended without touching
code; a bad pattern, an unknown key or an unknown category fails at import, and a test.
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
    """One named sign of risk: any of its patterns matching counts, unless ``unless`` does."""

    name: str
    category: Category
    pattern: re.Pattern[str]
    negatable: bool = False
    unless: re.Pattern[str] | None = None


NEGATIONS = frozenset({"not", "never", "nor"})
"""Words that, shortly before a negatable cue, cancel it ("i would never hurt myself")."""

ADJACENT_NEGATIONS = frozenset({"no"})
"""Words that cancel a negatable cue only straight before it ("no suicidal thoughts")."""

NEGATION_WINDOW = 4
"""How many words may stand between a negation and the cue it cancels."""


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


NEGATION_SCOPE = _words(
    """i am is are was were be been being do does did have has had will would could should
    might may must ever even really actually seriously honestly going to want wanted wanting
    planning plan plans intend intending try trying think thinking thought feel feeling felt
    of about a like currently at all it so too that any in the anything considering
    considered"""
)
"""The only words that may stand between a negation and its cue: auxiliaries, "thinking of"
and the like. Any other word ("not sure i...", "do not know why i...") or a clause boundary
ends the negation's reach, so it belongs to the cue only when it really negates it."""

_KEYS = frozenset({"name", "category", "patterns", "negatable", "unless"})


class CueError(ValueError):
    """``cues.yaml`` is malformed; the message names the cue."""


_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")
"""``{partner}`` names a group; regex counts like ``{0,40}`` are left alone."""


def _fill(pattern: str, groups: dict[str, str]) -> str:
    def group(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in groups:
            raise ValueError(f"unknown group {{{name}}}")
        return f"(?:{groups[name]})"

    return _PLACEHOLDER.sub(group, pattern)


def _compile(patterns: Any, groups: dict[str, str]) -> re.Pattern[str]:
    if isinstance(patterns, str) or not patterns:
        raise ValueError("patterns must be a non-empty list")
    return re.compile("|".join(f"(?:{_fill(str(p), groups)})" for p in patterns))


def _cue(entry: dict[str, Any], groups: dict[str, str]) -> Cue:
    name = str(entry.get("name", "?"))
    try:
        if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
            raise ValueError("a cue needs a snake_case name")
        unknown = set(entry) - _KEYS
        if unknown:
            raise ValueError(f"unknown keys {sorted(unknown)}")
        category = Category(entry["category"])
        if category is Category.NONE:
            raise ValueError("needs a danger category")
        pattern = _compile(entry["patterns"], groups)
        unless = _compile(entry["unless"], groups) if "unless" in entry else None
        negatable = entry.get("negatable", False)
        if not isinstance(negatable, bool):
            raise ValueError("negatable must be true or false")
    except (KeyError, TypeError, ValueError, re.error) as exc:
        raise CueError(f"cue {name!r}: {exc}") from None
    return Cue(name, category, pattern, negatable, unless)


def _expand_groups(groups: dict[str, str]) -> dict[str, str]:
    """Let a group use the groups defined before it (``{pnoun}`` inside ``{partner}``)."""
    expanded: dict[str, str] = {}
    for key, value in groups.items():
        try:
            expanded[key] = _fill(value, expanded)
            re.compile(expanded[key])
        except (ValueError, re.error) as exc:
            raise CueError(f"group {key!r}: {exc}") from None
    return expanded


def load_cues(path: Path = CUES_FILE) -> tuple[Cue, ...]:
    """Read and compile every cue.

    Raises:
        CueError: naming the first malformed cue, or a name used twice.
    """
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    groups = _expand_groups({str(k): str(v) for k, v in data["groups"].items()})
    cues = tuple(_cue(entry, groups) for entry in data["cues"])
    names = [cue.name for cue in cues]
    if len(set(names)) != len(names):
        raise CueError("two cues share a name")
    return cues


CUES: tuple[Cue, ...] = load_cues()
"""Every cue, in file order."""
