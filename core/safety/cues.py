"""The cues the safety screen looks for, loaded from ``cues.yaml`` beside this module.

Each cue has a name (reported instead of the text), a category and alternative patterns on
normalised text; optionally ``negatable`` (a negation just before a match cancels it) and
``unless`` (patterns that, found anywhere in the message, cancel the cue: a past that is
over, fiction, a joke). The lexicon is data so it can be read and extended without touching
code; a bad pattern, an unknown key or an unknown category fails at import, and a test.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field, replace
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Any

from core.yaml_io import load_yaml

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import sre_parse

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
    parts: tuple[Part, ...] = field(default=(), compare=False)
    """The patterns one by one, each with the words one of which it cannot match without."""


@dataclass(frozen=True, slots=True)
class Part:
    """One of a cue's patterns, with a prefilter.

    When ``needs`` is not ``None`` and none of its strings is in the text, the pattern cannot
    match and is not run at all.
    """

    pattern: re.Pattern[str]
    needs: frozenset[str] | None


NEGATIONS = frozenset({"not", "never", "nor"})
"""Words that, shortly before a negatable cue, cancel it ("i would never hurt myself")."""

ADJACENT_NEGATIONS = frozenset({"no"})
"""Words that cancel a negatable cue only straight before it ("no suicidal thoughts")."""


NEGATION_WINDOW = 4
"""How many words may stand between a negation and the cue it cancels."""


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


NO_SCOPE = _words(
    """thoughts thought urge urges intention intentions plan plans desire wish wishes real
    current serious of about to at all"""
)
"""The words "no" may reach across ("no thoughts of hurting myself", "no plans to")."""

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


_Needs = frozenset[str] | None
"""Literal strings one of which every match contains; ``None`` when there is no such set."""
_MAX_NEEDS = 60


def _best(candidates: list[frozenset[str]]) -> _Needs:
    """The most selective candidate: the longest shortest string, then the fewest strings."""
    usable = [c for c in candidates if c and len(c) <= _MAX_NEEDS]
    if not usable:
        return None
    return max(usable, key=lambda c: (min(len(x.strip()) for x in c), -len(c)))


def _needs(items: Any) -> _Needs:
    """Walk a parsed pattern for the literals a match cannot do without (see :data:`_Needs`)."""
    candidates: list[frozenset[str]] = []
    run: list[str] = []

    def close_run() -> None:
        if "".join(run).strip():
            candidates.append(frozenset({"".join(run)}))
        run.clear()

    for op, arg in items:
        kind = str(op)
        if kind == "LITERAL":
            run.append(chr(arg))
            continue
        close_run()
        found: _Needs = None
        if kind == "SUBPATTERN":
            found = _needs(arg[-1])
        elif kind == "BRANCH":
            branches = [_needs(branch) for branch in arg[1]]
            if all(b is not None for b in branches):
                found = frozenset().union(*(b for b in branches if b is not None))
        elif kind in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT") and arg[0] >= 1:
            found = _needs(arg[2])
        elif kind == "ATOMIC_GROUP":
            found = _needs(arg)
        if found is not None:
            candidates.append(found)
    close_run()
    return _best(candidates)


def _parts(patterns: list[Any], groups: dict[str, str]) -> tuple[Part, ...]:
    parts = []
    for raw in patterns:
        source = _fill(str(raw), groups)
        needs = _needs(sre_parse.parse(source))
        parts.append(Part(re.compile(source), needs))
    return tuple(parts)


_MIN_KEY = 4


def _share_needs(cues: tuple[Cue, ...]) -> tuple[Cue, ...]:
    """Let needs share keys, so there are fewer strings to look for.

    A need containing another need of :data:`_MIN_KEY` letters or more is replaced by it
    ("beating" by "beat"); a text holding the first holds the second too.
    """
    every = sorted({w for c in cues for p in c.parts if p.needs for w in p.needs}, key=len)
    keys: list[str] = []
    key_of: dict[str, str] = {}
    for word in every:
        key = next((k for k in keys if k in word), None)
        if key is None:
            key = word
            if len(word.strip()) >= _MIN_KEY:
                keys.append(word)
        key_of[word] = key

    def shared(part: Part) -> Part:
        if part.needs is None:
            return part
        return replace(part, needs=frozenset(key_of[w] for w in part.needs))

    return tuple(replace(c, parts=tuple(shared(p) for p in c.parts)) for c in cues)


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
    return Cue(name, category, pattern, negatable, unless, _parts(entry["patterns"], groups))


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


def _source(path: Path) -> tuple[dict[str, Any], dict[str, str]]:
    """The parsed file and its expanded groups (parsing takes about 40 ms).

    Cues and benign wordings come from one file; it is parsed once for both unless it
    changed in between.
    """
    return _parsed(path, path.stat().st_mtime_ns)


@cache
def _parsed(path: Path, _version: int) -> tuple[dict[str, Any], dict[str, str]]:
    data = load_yaml(path.read_text(encoding="utf-8"))
    return data, _expand_groups({str(k): str(v) for k, v in data["groups"].items()})


def load_cues(path: Path = CUES_FILE) -> tuple[Cue, ...]:
    """Read and compile every cue.

    Raises:
        CueError: naming the first malformed cue, or a name used twice.
    """
    data, groups = _source(path)
    cues = tuple(_cue(entry, groups) for entry in data["cues"])
    names = [cue.name for cue in cues]
    if len(set(names)) != len(names):
        raise CueError("two cues share a name")
    return _share_needs(cues)


def load_benign(path: Path = CUES_FILE) -> re.Pattern[str]:
    """The file's ``benign`` patterns as one: wordings known to be harmless.

    They never cancel a cue; they only keep the learned model from overruling what the
    lexicon already knows ("he threatened to leave" is no threat of harm).

    Raises:
        CueError: when the section is missing or a pattern does not compile.
    """
    data, groups = _source(path)
    try:
        return _compile(data["benign"], groups)
    except (KeyError, TypeError, ValueError, re.error) as exc:
        raise CueError(f"benign: {exc}") from None


CUES: tuple[Cue, ...] = load_cues()
"""Every cue, in file order."""

BENIGN: re.Pattern[str] = load_benign()
"""Harmless wordings the learned model may not flag (see :func:`load_benign`)."""
