"""The repair programme's content files under ``content/program/``: their shape and checks.

Each file is data with text keys; the words live in the locale like every other text. The
checks here run inside :func:`core.content.load_content`, so a broken programme file fails
the load (and the content lint test) like a broken flow does.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from core.program.draft import EMPTY_RULES, DraftRules, load_draft
from core.program.quizzes import QuizSpec, load_quizzes

_STRICT = ConfigDict(extra="forbid", frozen=True)

Theme = Literal[
    "communication",
    "trust",
    "appreciation",
    "connection",
    "conflict",
    "self_regulation",
    "individuality",
    "fun",
    "self_care",
]
"""What a micro-action works on."""

SELF_FOCUSED: frozenset[str] = frozenset({"self_care", "self_regulation", "individuality"})
"""Themes of steps a person takes for themselves alone: all safety mode ever offers."""

PHASES = (1, 2, 3, 4)
"""The four phases: stop making it worse; rebuild trust through tiny kept promises; new
patterns of connection; partners in conflict."""


class ActionSpec(BaseModel):
    """One daily micro-action: its tags. Its words are ``actions.<id>.do`` and ``.ask``.

    Attributes:
        id: stable identifier carried in button payloads; never reused for another step.
        phase: the programme phase it belongs to.
        theme: what it works on.
        effort: about how many minutes it takes.
        mode: ``solo`` (fits anyone, also someone apart from their partner) or
            ``together`` (done with or for the partner).
        repair_framed: its words assume a relationship being repaired (arguments, giving
            the partner space, their phone): never offered in safety mode, where it could
            read as self-blame to someone afraid of their partner.
    """

    model_config = _STRICT

    id: str = Field(pattern=r"^[a-z][a-z0-9_]{0,19}$")
    phase: int = Field(ge=1, le=4)
    theme: Theme
    effort: Literal[2, 10, 30]
    mode: Literal["solo", "together"]
    repair_framed: bool = False

    @property
    def do_key(self) -> str:
        """The text key of the step itself."""
        return f"actions.{self.id}.do"

    @property
    def ask_key(self) -> str:
        """The text key of its evening follow-up question."""
        return f"actions.{self.id}.ask"

    @property
    def self_focused(self) -> bool:
        """True for a step a person takes alone, for themselves (safety mode's only kind)."""
        return self.mode == "solo" and self.theme in SELF_FOCUSED and not self.repair_framed


class ActionsFile(BaseModel):
    """``content/program/actions.yaml``."""

    model_config = _STRICT

    actions: tuple[ActionSpec, ...]


@dataclass(frozen=True, slots=True)
class ProgramContent:
    """The programme's content, validated.

    Attributes:
        actions: the micro-action catalogue, in file order.
        quizzes: the self-assessments and lens quizzes, by kind then order.
        draft: the rules of ``/draft`` and of the apology review (``draft.yaml``).
    """

    actions: tuple[ActionSpec, ...] = ()
    quizzes: tuple[QuizSpec, ...] = ()
    draft: DraftRules = EMPTY_RULES

    def action(self, action_id: str) -> ActionSpec | None:
        """The action with ``action_id``, or None."""
        return _index(self.actions).get(action_id)


def _index(actions: tuple[ActionSpec, ...]) -> dict[str, ActionSpec]:
    return {a.id: a for a in actions}


def _words(text: str) -> str:
    """A text reduced to its words, to find two actions that say the same thing."""
    return " ".join(re.findall(r"[a-z0-9']+", text.lower()))


def _check_actions(actions: tuple[ActionSpec, ...], texts: Mapping[str, str]) -> list[str]:
    problems: list[str] = []
    where = "program/actions.yaml"
    ids = [a.id for a in actions]
    for dup in sorted({i for i in ids if ids.count(i) > 1}):
        problems.append(f"{where}: action id {dup!r} is used twice")
    seen: dict[str, str] = {}
    for action in actions:
        for key in (action.do_key, action.ask_key):
            if key not in texts:
                problems.append(f"{where}: text key {key!r} is missing")
        words = _words(texts.get(action.do_key, ""))
        if words and words in seen:
            problems.append(f"{where}: {action.id!r} says the same as {seen[words]!r}")
        seen.setdefault(words, action.id)
    known = set(ids)
    for key in texts:
        parts = key.split(".")
        if parts[0] == "actions" and (len(parts) != 3 or parts[1] not in known):
            problems.append(f"{where}: text {key!r} belongs to no action")
    return problems


def load_program(
    folder: Path,
    texts: Mapping[str, str],
    problems: list[str],
    read: Any,
) -> ProgramContent:
    """Load and check ``content/program/``, adding what is wrong to ``problems``.

    Args:
        folder: the ``program`` folder of the content tree.
        texts: the default locale's texts, by key.
        problems: where problems are collected.
        read: the loader's YAML reader, ``read(path, problems) -> data``.
    """
    actions: tuple[ActionSpec, ...] = ()
    data = read(folder / "actions.yaml", problems)
    try:
        actions = ActionsFile.model_validate(data).actions
    except ValidationError as exc:
        problems.extend(
            f"program/actions.yaml: {'.'.join(str(p) for p in err['loc']) or 'file'}: {err['msg']}"
            for err in exc.errors()
        )
    problems.extend(_check_actions(actions, texts))
    quizzes = load_quizzes(folder / "quizzes", texts, problems, read)
    draft = load_draft(folder, texts, problems, read)
    return ProgramContent(actions=actions, quizzes=quizzes, draft=draft)
