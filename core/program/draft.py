r"""Before you send: rules that notice what tends to make a message to a partner land worse.

The rules are data (``content/program/draft.yaml``): each has an id, the text keys of why
it matters and what to try instead, and regular expressions. Everything here is pure: the
text is read, never kept, and nothing is logged.

Pattern syntax, on top of Python's ``re`` (matched case-insensitively, ``^`` at any line
start):

* a pattern matches whole words only: it never starts or ends inside a word;
* a space matches any run of whitespace, line breaks included (so a pasted message that
  wraps mid-phrase still matches); spaces inside ``[...]`` are not allowed, and optional
  whitespace is written ``\s*`` (a space followed by ``?`` would mean one or more);
* an apostrophe may be left out ("you're" also finds "youre", "can't" finds "cant");
* ``{name}`` inserts the piece ``name`` from the file's ``words`` section as a group, so
  common spellings ("you", "u"; "you're", "youre", "ur") are written once.

A match is dropped when an ``unless`` pattern overlaps it (a kind "you always make me
laugh" against "you always"), when an ``unless_before`` pattern is found earlier in the
same sentence ("I can't promise I'll change everything"), or when it sits inside double
quotes (a person quoting words, not saying them). Each rule flags once per message, with
the first phrase it found.

Two flags are not about words: ``too_long`` (more than ``max_words`` words or
``max_chars`` characters) and ``late_night`` (the person's local time falls in the
window ``start``–``end``, which may cross midnight).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import time
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

__all__ = [
    "ANSWERS",
    "EMPTY_RULES",
    "LATE_NIGHT",
    "TOO_LONG",
    "DraftRules",
    "Flag",
    "Rule",
    "analyse",
    "build_rules",
    "compile_pattern",
    "is_late",
    "late_flag",
    "load_draft",
    "quote",
    "review_apology",
]

_STRICT = ConfigDict(extra="forbid", frozen=True)
_IDENT = r"^[a-z][a-z0-9_]{0,31}$"
_HHMM = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"
_WHERE = "program/draft.yaml"

TOO_LONG = "too_long"
"""The flag for a very long message."""
LATE_NIGHT = "late_night"
"""The flag for a message written in the small hours (about when, not what)."""
Answer = Literal["what", "hurt", "part", "change"]
ANSWERS: tuple[Answer, ...] = ("what", "hurt", "part", "change")
"""The apology builder's answers, in the order they are asked."""

MAX_QUOTE_CHARS = 60
"""The longest phrase quoted back to a person."""
_EXTRA_WORDS = 3
"""Words quoted after a match, within its clause, so the phrase reads naturally."""
_FLAGS = re.IGNORECASE | re.MULTILINE
_PIECE = re.compile(r"\{([a-z_]+)\}")
_QUOTED = re.compile(r'"[^"\n]{1,400}"|\u201c[^\u201d\n]{1,400}\u201d')
_SENTENCE_END = re.compile(r"[.!?\n]")
_NEXT_WORD = re.compile(r"(?:[ \t]+|[ \t]*\n[ \t]*)[\w'\u2019-]+")
"""The next word of the same paragraph (a blank line ends the quote)."""
_WORD_TAIL = re.compile(r"[\w'\u2019-]*")
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'"})


class RuleSpec(BaseModel):
    """One rule as written in the file.

    Attributes:
        id: the flag's name.
        why: text key: why this tends to make things worse (one short line).
        instead: text key: one gentle line on what to do instead.
        patterns: what the rule looks for.
        unless: a match overlapping one of these is not a finding.
        unless_before: a match with one of these earlier in its sentence is not a finding.
        answers: for the apology review only: which answers the rule reads.
    """

    model_config = _STRICT

    id: str = Field(pattern=_IDENT)
    why: str
    instead: str
    patterns: tuple[str, ...] = Field(min_length=1)
    unless: tuple[str, ...] = ()
    unless_before: tuple[str, ...] = ()
    answers: tuple[Answer, ...] = ANSWERS


class LengthSpec(BaseModel):
    """The ``too_long`` flag: a message over either limit."""

    model_config = _STRICT

    max_words: int = Field(ge=1)
    max_chars: int = Field(ge=1)
    why: str
    instead: str


class LateSpec(BaseModel):
    """The ``late_night`` flag: local ``HH:MM`` from ``start`` (inclusive) to ``end``."""

    model_config = _STRICT

    start: str = Field(pattern=_HHMM)
    end: str = Field(pattern=_HHMM)
    why: str
    instead: str


class ApologySpec(BaseModel):
    """How the apology builder reviews a person's answers.

    Attributes:
        reuse: ids of the message rules also applied to the answers.
        rules: rules of its own (defending, excuses, minimising).
    """

    model_config = _STRICT

    reuse: tuple[str, ...]
    rules: tuple[RuleSpec, ...]


class DraftFile(BaseModel):
    """``content/program/draft.yaml``."""

    model_config = _STRICT

    words: dict[str, str] = Field(default_factory=dict)
    rules: tuple[RuleSpec, ...] = Field(min_length=1)
    too_long: LengthSpec
    late_night: LateSpec
    apology: ApologySpec


@dataclass(frozen=True, slots=True)
class Rule:
    """A rule ready to run: its patterns compiled."""

    id: str
    why: str
    instead: str
    patterns: tuple[re.Pattern[str], ...]
    unless: tuple[re.Pattern[str], ...] = ()
    unless_before: tuple[re.Pattern[str], ...] = ()
    answers: tuple[str, ...] = ANSWERS


@dataclass(frozen=True, slots=True)
class DraftRules:
    """Everything ``/draft`` and the apology review check, validated and compiled."""

    rules: tuple[Rule, ...] = ()
    max_words: int = 180
    max_chars: int = 1200
    length_why: str = ""
    length_instead: str = ""
    late_start: time = time(23, 0)
    late_end: time = time(5, 0)
    late_why: str = ""
    late_instead: str = ""
    apology: tuple[Rule, ...] = ()


EMPTY_RULES = DraftRules()
"""No rules: what a failed load leaves (the load then fails as a whole)."""


@dataclass(frozen=True, slots=True)
class Flag:
    """One finding.

    Attributes:
        rule: the rule's id (``absolutes``, ``too_long``, …).
        why: text key of why it tends to make things worse.
        instead: text key of what to try instead.
        phrase: the words found, as the person wrote them (empty for ``too_long`` and
            ``late_night``).
        words: for ``too_long``: how many words the message has.
    """

    rule: str
    why: str
    instead: str
    phrase: str = ""
    words: int = 0


def compile_pattern(pattern: str, words: Mapping[str, str]) -> re.Pattern[str]:
    """Compile one rule pattern (see the module's notes on the syntax).

    Raises:
        KeyError: for a ``{name}`` that ``words`` lacks.
        ValueError: for a space inside ``[...]``.
        re.error: if the result is not a valid expression.
    """

    def piece(match: re.Match[str]) -> str:
        return f"(?:{words[match.group(1)]})"

    expanded = _PIECE.sub(piece, pattern)
    return re.compile(rf"(?<!\w)(?:{_loosen(expanded)})(?!\w)", _FLAGS)


def _loosen(pattern: str) -> str:
    """Spaces match any whitespace and apostrophes may be left out, outside ``[...]``."""
    out: list[str] = []
    in_class = escaped = False
    for char in pattern:
        if escaped:
            out.append(char)
            escaped = False
        elif char == "\\":
            out.append(char)
            escaped = True
        elif in_class:
            if char == " ":
                raise ValueError("a space inside [...]")
            in_class = char != "]"
            out.append(char)
        elif char == "[":
            in_class = True
            out.append(char)
        elif char == " ":
            out.append(r"\s+")
        elif char == "'":
            out.append("'?")
        else:
            out.append(char)
    return "".join(out)


def _matching_copy(text: str) -> str:
    """``text`` with curly apostrophes made straight.

    The copy has the same length, so a span found in it quotes the original characters.
    """
    return text.translate(_APOSTROPHES)


def _quoted_spans(text: str) -> list[tuple[int, int]]:
    return [m.span() for m in _QUOTED.finditer(text)]


def quote(text: str, start: int, end: int) -> str:
    """The phrase at ``start:end`` plus a few words of its clause, at most 60 characters.

    Whitespace inside the phrase becomes single spaces; a cut phrase ends with "…".
    """
    tail = _WORD_TAIL.match(text, end)
    stop = tail.end() if tail is not None else end
    for _ in range(0 if text[start:end].rstrip()[-1:] in ".!?" else _EXTRA_WORDS):
        nxt = _NEXT_WORD.match(text, stop)
        if nxt is None:
            break
        stop = nxt.end()
    phrase = " ".join(text[start:stop].split()).strip(" .,;:!?-")
    if len(phrase) <= MAX_QUOTE_CHARS:
        return phrase
    cut = phrase[: MAX_QUOTE_CHARS - 1]
    if " " in cut:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" .,;:!?-") + "\u2026"


def _sentence_start(text: str, position: int) -> int:
    last = 0
    for mark in _SENTENCE_END.finditer(text, 0, position):
        last = mark.end()
    return last


def _find(rule: Rule, text: str, quoted: Sequence[tuple[int, int]]) -> tuple[int, int] | None:
    """Where the first phrase ``rule`` flags in ``text`` (a matching copy) is, or None."""
    found: list[tuple[int, int]] = []
    for pattern in rule.patterns:
        found.extend(m.span() for m in pattern.finditer(text) if m.end() > m.start())
    for start, end in sorted(found):
        if any(a <= start and end <= b for a, b in quoted):
            continue
        if any(m.start() < end and start < m.end() for u in rule.unless for m in u.finditer(text)):
            continue
        before = text[_sentence_start(text, start) : start]
        if any(u.search(before) for u in rule.unless_before):
            continue
        return start, end
    return None


def _word_count(text: str) -> int:
    return len(text.split())


def analyse(text: str, rules: DraftRules) -> tuple[Flag, ...]:
    """What stands out in a message: each text rule once, in file order, then length.

    ``late_night`` is not checked here (see :func:`is_late`).
    """
    copy = _matching_copy(text)
    quoted = _quoted_spans(copy)
    flags: list[Flag] = []
    for rule in rules.rules:
        span = _find(rule, copy, quoted)
        if span is not None:
            flags.append(Flag(rule.id, rule.why, rule.instead, quote(text, *span)))
    count = _word_count(text)
    if count > rules.max_words or len(text) > rules.max_chars:
        flags.append(Flag(TOO_LONG, rules.length_why, rules.length_instead, words=count))
    return tuple(flags)


def is_late(local: time, rules: DraftRules) -> bool:
    """True if ``local`` (a person's own time of day) falls in the late-night window."""
    start, end = rules.late_start, rules.late_end
    if start <= end:
        return start <= local < end
    return local >= start or local < end


def late_flag(rules: DraftRules) -> Flag:
    """The ``late_night`` finding."""
    return Flag(LATE_NIGHT, rules.late_why, rules.late_instead)


def review_apology(answers: Mapping[str, str], rules: DraftRules) -> tuple[Flag, ...]:
    """What in an apology's answers sounds like defending or blaming, each rule once.

    Args:
        answers: the person's answers by name (``what``, ``hurt``, ``part``, ``change``).
        rules: the loaded rules; their ``apology`` rules are applied.
    """
    flags: list[Flag] = []
    for rule in rules.apology:
        for name in ANSWERS:
            text = answers.get(name, "")
            if name not in rule.answers or not text:
                continue
            copy = _matching_copy(text)
            span = _find(rule, copy, _quoted_spans(copy))
            if span is not None:
                flags.append(Flag(rule.id, rule.why, rule.instead, quote(text, *span)))
                break
    return tuple(flags)


def _compile_rule(
    spec: RuleSpec, words: Mapping[str, str], where: str, problems: list[str]
) -> Rule | None:
    compiled: dict[str, list[re.Pattern[str]]] = {"patterns": [], "unless": [], "before": []}
    sources = {
        "patterns": spec.patterns,
        "unless": spec.unless,
        "before": spec.unless_before,
    }
    ok = True
    for field, patterns in sources.items():
        for pattern in patterns:
            try:
                compiled[field].append(compile_pattern(pattern, words))
            except KeyError as exc:
                problems.append(f"{where}: rule {spec.id!r}: unknown piece {{{exc.args[0]}}}")
                ok = False
            except (re.error, ValueError) as exc:
                problems.append(f"{where}: rule {spec.id!r}: bad pattern {pattern!r} ({exc})")
                ok = False
    if not ok:
        return None
    return Rule(
        spec.id,
        spec.why,
        spec.instead,
        tuple(compiled["patterns"]),
        tuple(compiled["unless"]),
        tuple(compiled["before"]),
        tuple(spec.answers),
    )


def _hhmm(value: str) -> time:
    hour, minute = value.split(":")
    return time(int(hour), int(minute))


def build_rules(
    data: Any, texts: Mapping[str, str], problems: list[str], where: str = _WHERE
) -> DraftRules:
    """Validate and compile the rules file's data, adding what is wrong to ``problems``.

    Checks: the file's shape (unknown keys fail), every text key exists, every pattern
    compiles, rule ids are unique, every reused rule exists.
    """
    try:
        spec = DraftFile.model_validate(data)
    except ValidationError as exc:
        problems.extend(
            f"{where}: {'.'.join(str(p) for p in err['loc']) or 'file'}: {err['msg']}"
            for err in exc.errors()
        )
        return EMPTY_RULES
    before = len(problems)
    for name, piece in spec.words.items():
        try:
            re.compile(piece)
        except re.error as exc:
            problems.append(f"{where}: words.{name}: bad pattern ({exc})")
    ids = [r.id for r in spec.rules]
    apology_ids = [r.id for r in spec.apology.rules]
    reserved = {TOO_LONG, LATE_NIGHT}
    for dup in sorted({i for i in ids if ids.count(i) > 1 or i in reserved}):
        problems.append(f"{where}: rule id {dup!r} is used twice or reserved")
    for dup in sorted({i for i in apology_ids if apology_ids.count(i) > 1 or i in ids}):
        problems.append(f"{where}: apology rule id {dup!r} is used twice")
    for wanted in spec.apology.reuse:
        if wanted not in ids:
            problems.append(f"{where}: apology reuses unknown rule {wanted!r}")
    keys = [k for r in (*spec.rules, *spec.apology.rules) for k in (r.why, r.instead)]
    keys += [spec.too_long.why, spec.too_long.instead]
    keys += [spec.late_night.why, spec.late_night.instead]
    for key in keys:
        if key not in texts:
            problems.append(f"{where}: text key {key!r} is missing")
    rules = [_compile_rule(r, spec.words, where, problems) for r in spec.rules]
    own = [_compile_rule(r, spec.words, where, problems) for r in spec.apology.rules]
    if len(problems) > before:
        return EMPTY_RULES
    compiled = tuple(r for r in rules if r is not None)
    by_id = {r.id: r for r in compiled}
    reused = tuple(by_id[i] for i in spec.apology.reuse)
    return DraftRules(
        rules=compiled,
        max_words=spec.too_long.max_words,
        max_chars=spec.too_long.max_chars,
        length_why=spec.too_long.why,
        length_instead=spec.too_long.instead,
        late_start=_hhmm(spec.late_night.start),
        late_end=_hhmm(spec.late_night.end),
        late_why=spec.late_night.why,
        late_instead=spec.late_night.instead,
        apology=(*reused, *(r for r in own if r is not None)),
    )


def load_draft(
    folder: Path,
    texts: Mapping[str, str],
    problems: list[str],
    read: Callable[[Path, list[str]], Any],
) -> DraftRules:
    """Load ``draft.yaml`` from the programme folder (see :func:`build_rules`).

    Args:
        folder: the ``program`` folder of the content tree.
        texts: the default locale's texts, by key.
        problems: where problems are collected.
        read: the loader's YAML reader, ``read(path, problems) -> data``.
    """
    data = read(folder / "draft.yaml", problems)
    if data is None:
        problems.append(f"{_WHERE}: is missing or empty")
        return EMPTY_RULES
    return build_rules(data, texts, problems)
