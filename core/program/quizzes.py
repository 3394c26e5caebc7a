"""Self-assessments and lens quizzes: their content schema, load checks and pure scoring.

A quiz is data (``content/program/quizzes/<id>.yaml``) with text keys; its words live in
the locale. Two kinds exist:

* ``assessment``: every option carries points; the total picks one of the outcomes, whose
  score ranges cover every possible total exactly once (checked at load).
* ``lens``: every option names a dimension (a way of giving care, a way of reacting when
  closeness changes); the dimension chosen most often picks its outcome, a tie picks
  ``mixed``.

Any option may be marked ``safety: true`` (an answer that points to abuse or fear): it
carries neither points nor a dimension, because pressing it ends the quiz at once.

Buttons carry the whole state, so a quiz works from an old message and survives a
restart. An answer button says where the quiz stands *after* that answer:

* ``q:<quiz>`` starts a quiz (intro and first question);
* ``q:<quiz>:<answered>:<tally>`` is an answer: ``answered`` questions are done and the
  tally is their score (assessment: a number) or one digit per dimension (lens);
* ``q:<quiz>:<question>:s<option>`` is a safety option of that question.

:func:`decode` checks every part of a payload against the quiz, so a forged or garbled
one is recognised as such (:data:`FORGED`) rather than raising or scoring nonsense.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from core.flows.payload import MAX_PAYLOAD_BYTES

__all__ = [
    "FORGED",
    "MIXED",
    "PREFIX",
    "Answer",
    "Forged",
    "Option",
    "Outcome",
    "Question",
    "QuizSpec",
    "SafetyPick",
    "Start",
    "check_quiz",
    "decode",
    "load_quizzes",
    "option_payload",
    "outcome_for",
    "score_bounds",
    "start_payload",
    "start_tally",
]

PREFIX: Final = "q"
"""The payload prefix of every quiz button."""
MIXED: Final = "mixed"
"""The outcome id of a lens quiz whose top dimensions are tied."""
MAX_LABEL_CHARS: Final = 80
"""Discord's button label limit (the content loader's own limit)."""
MAX_POINTS: Final = 9
"""Most points one option may carry."""

_STRICT = ConfigDict(extra="forbid", frozen=True)
_NUMBER = re.compile(r"^(0|[1-9][0-9]{0,2})$")
_SAFETY = re.compile(r"^s(0|[1-9][0-9]?)$")


class Option(BaseModel):
    """One answer to a question.

    Attributes:
        label: text key of the button label (at most 80 characters).
        points: what the answer adds to an assessment's score.
        dimension: which dimension of a lens the answer counts for.
        safety: True for an answer that points to abuse or fear: it ends the quiz and
            switches safety mode on.
    """

    model_config = _STRICT

    label: str
    points: int | None = Field(default=None, ge=0, le=MAX_POINTS)
    dimension: str | None = None
    safety: bool = False


class Question(BaseModel):
    """One question: its text key and 2 to 5 answers."""

    model_config = _STRICT

    text: str
    options: tuple[Option, ...] = Field(min_length=2, max_length=5)


class Outcome(BaseModel):
    """One result of a quiz.

    Attributes:
        id: what is stored in ``quiz_results`` (never the single answers).
        text: text key of what is said.
        min: an assessment's lowest total for this outcome (inclusive).
        max: an assessment's highest total for this outcome (inclusive).
        healing: True to offer the stages-of-healing orientation under the result.
    """

    model_config = _STRICT

    id: str = Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")
    text: str
    min: int | None = Field(default=None, ge=0)
    max: int | None = Field(default=None, ge=0)
    healing: bool = False


class QuizSpec(BaseModel):
    """One quiz file.

    Attributes:
        id: short name used in payloads; equals the file name without ``.yaml``.
        kind: ``assessment`` (points) or ``lens`` (dimensions).
        order: where it is listed among quizzes of its kind (1 first).
        title: text key of its button in the list (at most 80 characters).
        intro: text key said before the first question.
        dimensions: a lens's dimensions, in the order of the tally's digits.
        closing: optional text key said after every outcome.
        questions: 5 to 8 questions.
        outcomes: an assessment's score ranges, or a lens's one outcome per dimension
            plus ``mixed``.
    """

    model_config = _STRICT

    id: str = Field(pattern=r"^[a-z]{2,10}$")
    kind: Literal["assessment", "lens"]
    order: int = Field(ge=1, le=99)
    title: str
    intro: str
    dimensions: tuple[str, ...] = ()
    closing: str | None = None
    questions: tuple[Question, ...] = Field(min_length=5, max_length=8)
    outcomes: tuple[Outcome, ...] = Field(min_length=2)

    def text_keys(self) -> list[str]:
        """Every text key the quiz uses."""
        used = [self.title, self.intro, *([self.closing] if self.closing else [])]
        for question in self.questions:
            used.append(question.text)
            used.extend(o.label for o in question.options)
        used.extend(o.text for o in self.outcomes)
        return used

    def outcome(self, outcome_id: str) -> Outcome | None:
        """The outcome with ``outcome_id``, or None."""
        return next((o for o in self.outcomes if o.id == outcome_id), None)


# ------------------------------------------------------------------ presses


@dataclass(frozen=True, slots=True)
class Start:
    """Begin ``quiz`` from its intro."""

    quiz: QuizSpec


@dataclass(frozen=True, slots=True)
class Answer:
    """``answered`` questions are done and ``tally`` is where they stand."""

    quiz: QuizSpec
    answered: int
    tally: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class SafetyPick:
    """A safety option (an answer pointing to abuse or fear) was pressed."""

    quiz: QuizSpec
    question: int
    option: int


@dataclass(frozen=True, slots=True)
class Forged:
    """A quiz payload that does not fit any quiz: answer kindly, change nothing."""


FORGED: Final = Forged()
"""The one :class:`Forged` value."""

Press = Start | Answer | SafetyPick | Forged


def start_tally(quiz: QuizSpec) -> tuple[int, ...]:
    """The tally before any answer: a score of 0, or a zero per dimension."""
    return (0,) * len(quiz.dimensions) if quiz.kind == "lens" else (0,)


def _counted(question: Question) -> list[Option]:
    return [o for o in question.options if not o.safety]


def score_bounds(quiz: QuizSpec, answered: int) -> tuple[int, int]:
    """The lowest and highest score possible after the first ``answered`` questions."""
    low = high = 0
    for question in quiz.questions[:answered]:
        points = [o.points or 0 for o in _counted(question)] or [0]
        low += min(points)
        high += max(points)
    return low, high


def _encode_tally(quiz: QuizSpec, tally: tuple[int, ...]) -> str:
    if quiz.kind == "lens":
        return "".join(str(n) for n in tally)
    return str(tally[0])


def start_payload(quiz: QuizSpec) -> str:
    """The payload of the button that starts ``quiz``."""
    return f"{PREFIX}:{quiz.id}"


def option_payload(quiz: QuizSpec, question: int, option: int, tally: tuple[int, ...]) -> str:
    """The payload of answer ``option`` to ``question``, given the tally before it."""
    chosen = quiz.questions[question].options[option]
    if chosen.safety:
        return f"{PREFIX}:{quiz.id}:{question}:s{option}"
    if quiz.kind == "lens":
        after = tuple(
            n + (1 if name == chosen.dimension else 0)
            for n, name in zip(tally, quiz.dimensions, strict=True)
        )
    else:
        after = (tally[0] + (chosen.points or 0),)
    return f"{PREFIX}:{quiz.id}:{question + 1}:{_encode_tally(quiz, after)}"


def _decode_tally(quiz: QuizSpec, answered: int, raw: str) -> tuple[int, ...] | None:
    if quiz.kind == "lens":
        if len(raw) != len(quiz.dimensions) or not raw.isascii() or not raw.isdigit():
            return None
        counts = tuple(int(c) for c in raw)
        return counts if sum(counts) == answered else None
    if not _NUMBER.match(raw):
        return None
    low, high = score_bounds(quiz, answered)
    score = int(raw)
    return (score,) if low <= score <= high else None


def _index(raw: str) -> int | None:
    return int(raw) if _NUMBER.match(raw) else None


def decode(payload: str, quizzes: Mapping[str, QuizSpec]) -> Press | None:
    """Read a quiz button's payload.

    Returns:
        None if the payload is not a quiz's (another desk's prefix); :data:`FORGED` for
        a quiz payload that does not fit (unknown quiz, index out of range, a tally the
        answers so far could not reach, junk); otherwise what was pressed.
    """
    parts = payload.split(":")
    if parts[0] != PREFIX:
        return None
    quiz = quizzes.get(parts[1]) if len(parts) > 1 else None
    if quiz is None or len(parts) not in (2, 4):
        return FORGED
    if len(parts) == 2:
        return Start(quiz)
    index = _index(parts[2])
    if index is None:
        return FORGED
    safety = _SAFETY.match(parts[3])
    if safety is not None:
        option = int(safety.group(1))
        if index >= len(quiz.questions):
            return FORGED
        options = quiz.questions[index].options
        if option >= len(options) or not options[option].safety:
            return FORGED
        return SafetyPick(quiz, index, option)
    if not 1 <= index <= len(quiz.questions):
        return FORGED
    tally = _decode_tally(quiz, index, parts[3])
    if tally is None:
        return FORGED
    return Answer(quiz, index, tally)


def outcome_for(quiz: QuizSpec, tally: tuple[int, ...]) -> Outcome:
    """The outcome of a finished quiz.

    An assessment's total falls in exactly one range (checked at load). A lens picks the
    dimension chosen most often, or ``mixed`` when two or more share the top.

    Raises:
        ValueError: if the tally fits no outcome (prevented by the load checks and by
            :func:`decode`).
    """
    if quiz.kind == "lens":
        top = max(tally)
        leaders = [d for d, n in zip(quiz.dimensions, tally, strict=True) if n == top]
        wanted = leaders[0] if len(leaders) == 1 else MIXED
        found = quiz.outcome(wanted)
    else:
        score = tally[0]
        found = next(
            (
                o
                for o in quiz.outcomes
                if o.min is not None and o.max is not None and o.min <= score <= o.max
            ),
            None,
        )
    if found is None:
        raise ValueError(f"quiz {quiz.id!r}: no outcome for {tally!r}")
    return found


# ------------------------------------------------------------------ load checks


def _check_options(quiz: QuizSpec, where: str) -> list[str]:
    problems: list[str] = []
    dimensions = set(quiz.dimensions)
    for q_index, question in enumerate(quiz.questions):
        here = f"{where}: question {q_index + 1}"
        if not _counted(question):
            problems.append(f"{here}: needs at least one answer that is not a safety answer")
        for o_index, option in enumerate(question.options):
            at = f"{here} option {o_index + 1}"
            if option.safety:
                if option.points is not None or option.dimension is not None:
                    problems.append(f"{at}: a safety answer carries no points or dimension")
            elif quiz.kind == "assessment":
                if option.points is None or option.dimension is not None:
                    problems.append(f"{at}: an assessment answer needs points and no dimension")
            elif option.dimension not in dimensions or option.points is not None:
                problems.append(f"{at}: a lens answer needs one of {sorted(dimensions)}")
    return problems


def _check_ranges(quiz: QuizSpec, where: str) -> list[str]:
    problems: list[str] = []
    if quiz.dimensions:
        problems.append(f"{where}: an assessment has no dimensions")
    ranges: list[tuple[int, int, str]] = []
    for outcome in quiz.outcomes:
        if outcome.min is None or outcome.max is None or outcome.min > outcome.max:
            problems.append(f"{where}: outcome {outcome.id!r} needs min <= max")
        else:
            ranges.append((outcome.min, outcome.max, outcome.id))
    low, high = score_bounds(quiz, len(quiz.questions))
    for total in range(low, high + 1):
        covering = [name for start, end, name in ranges if start <= total <= end]
        if not covering:
            problems.append(f"{where}: a total of {total} has no outcome (a gap)")
        elif len(covering) > 1:
            problems.append(f"{where}: a total of {total} fits {covering} (an overlap)")
    for start, end, name in ranges:
        if end < low or start > high:
            problems.append(f"{where}: outcome {name!r} can never be reached")
    return problems


def _check_lens(quiz: QuizSpec, where: str) -> list[str]:
    problems: list[str] = []
    names = list(quiz.dimensions)
    if len(names) < 2 or len(set(names)) != len(names) or MIXED in names:
        problems.append(f"{where}: a lens needs two or more distinct dimensions")
    wanted = {*names, MIXED}
    given = [o.id for o in quiz.outcomes]
    if set(given) != wanted or len(given) != len(wanted):
        problems.append(f"{where}: a lens needs one outcome per dimension plus {MIXED!r}")
    for outcome in quiz.outcomes:
        if outcome.min is not None or outcome.max is not None:
            problems.append(f"{where}: lens outcome {outcome.id!r} has no score range")
    return problems


def check_quiz(quiz: QuizSpec, texts: Mapping[str, str], where: str) -> list[str]:
    """Everything wrong with one validated quiz file, as readable problems."""
    problems = _check_options(quiz, where)
    ids = [o.id for o in quiz.outcomes]
    for dup in sorted({i for i in ids if ids.count(i) > 1}):
        problems.append(f"{where}: outcome id {dup!r} is used twice")
    if quiz.kind == "assessment":
        problems.extend(_check_ranges(quiz, where))
    else:
        problems.extend(_check_lens(quiz, where))
    for key in quiz.text_keys():
        if key not in texts:
            problems.append(f"{where}: text key {key!r} is missing")
    labels = [quiz.title, *(o.label for q in quiz.questions for o in q.options)]
    for label in labels:
        if len(texts.get(label, "")) > MAX_LABEL_CHARS:
            problems.append(f"{where}: label {label!r} is too long")
    width = len(quiz.dimensions) if quiz.kind == "lens" else len(str(8 * MAX_POINTS))
    longest = f"{PREFIX}:{quiz.id}:{len(quiz.questions)}:{'9' * max(width, 3)}"
    if len(longest.encode()) > MAX_PAYLOAD_BYTES:
        problems.append(f"{where}: its button payloads would be too long")
    return problems


def load_quizzes(
    folder: Path, texts: Mapping[str, str], problems: list[str], read: Any
) -> tuple[QuizSpec, ...]:
    """Load and check every ``<id>.yaml`` under ``folder``, adding problems found.

    Args:
        folder: ``content/program/quizzes``.
        texts: the default locale's texts, by key.
        problems: where problems are collected.
        read: the loader's YAML reader, ``read(path, problems) -> data``.

    Returns:
        The valid quizzes, by kind then ``order``.
    """
    quizzes: list[QuizSpec] = []
    for path in sorted(folder.glob("*.yaml")):
        where = f"program/quizzes/{path.name}"
        data = read(path, problems)
        try:
            quiz = QuizSpec.model_validate(data)
        except ValidationError as exc:
            problems.extend(
                f"{where}: {'.'.join(str(p) for p in err['loc']) or 'file'}: {err['msg']}"
                for err in exc.errors()
            )
            continue
        if quiz.id != path.stem:
            problems.append(f"{where}: id {quiz.id!r} differs from the file name")
        problems.extend(check_quiz(quiz, texts, where))
        quizzes.append(quiz)
    seen: dict[tuple[str, str], int] = {}
    for quiz in quizzes:
        for key in (("id", quiz.id), (quiz.kind, str(quiz.order))):
            seen[key] = seen.get(key, 0) + 1
    for (what, value), count in sorted(seen.items()):
        if count > 1:
            problems.append(f"program/quizzes: {what} {value!r} is used by {count} quizzes")
    return tuple(sorted(quizzes, key=lambda q: (q.kind, q.order)))
