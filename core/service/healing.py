"""``/healing``: a short orientation to the stages of healing after a rupture.

Seven stages (shock, acute pain, meaning-making, reconnection or withdrawal, intentional
healing, relapse, integration), each one tap away from a short overview. Relapse is shown
as a normal stage, not a failure. Other desks offer the orientation when someone is
struggling with :data:`core.program.names.HEALING_BUTTON` (``hl:open``).

In safety mode the overview and the "reconnection or withdrawal" stage have their own
texts, which never hold up reconnecting as the goal: distance can be what keeps a person
safe.

Payloads: ``hl:open`` (the overview) and ``hl:s:<stage>`` (one stage). Anything else
starting with ``hl:`` gets a kind answer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from core.content.errors import ContentError
from core.flows.engine import StepResult
from core.program.names import HEALING_BUTTON
from core.service.courier import ButtonSpec, CoupleHandler, Turn
from core.service.desk import DeskKit, ProgramDesk, missing_content
from core.types import Reply

__all__ = ["HEALING_KEYS", "STAGES", "HealingDesk", "stage_key"]

PREFIX = "hl"
OPEN = HEALING_BUTTON[1]
STAGES: tuple[str, ...] = (
    "shock",
    "pain",
    "meaning",
    "crossroads",
    "intention",
    "relapse",
    "integration",
)
"""The stages in their usual order (people move back and forth between them)."""
CROSSROADS = "crossroads"
"""Reconnection or withdrawal: the stage with a safety-mode text of its own."""

OVERVIEW = "healing.overview"
OVERVIEW_SAFETY = "healing.overview_safety"
CROSSROADS_SAFETY = "healing.stage.crossroads_safety"
NEEDS_START = "healing.needs_start"
STALE = "healing.stale"
ALL_STAGES = "healing.button.all"


def stage_key(stage: str) -> str:
    """The text key of one stage's short explanation."""
    return f"healing.stage.{stage}"


def _label(stage: str) -> str:
    return f"healing.button.{stage}"


HEALING_KEYS: tuple[str, ...] = (
    HEALING_BUTTON[0],
    OVERVIEW,
    OVERVIEW_SAFETY,
    CROSSROADS_SAFETY,
    NEEDS_START,
    STALE,
    ALL_STAGES,
    *(stage_key(s) for s in STAGES),
    *(_label(s) for s in STAGES),
)
"""Every text of the orientation, checked when the desk is built."""


class HealingDesk(ProgramDesk):
    """Shows the stages-of-healing orientation, from ``/healing`` or an ``hl:`` button."""

    def __init__(self, kit: DeskKit) -> None:
        """Build the desk.

        Raises:
            ContentError: if a text of the orientation is missing.
        """
        self._kit = kit
        missing = missing_content(kit.content, HEALING_KEYS)
        if missing:
            raise ContentError(missing)

    @property
    def commands(self) -> Mapping[str, CoupleHandler]:
        """``/healing``."""
        return {"healing": self._overview}

    def press(self, turn: Turn) -> StepResult | None:
        """Answer an ``hl:`` button; None for any other payload."""
        payload = turn.event.payload or ""
        parts = payload.split(":")
        if parts[0] != PREFIX:
            return None
        if payload == OPEN:
            return self._overview(turn)
        if len(parts) == 3 and parts[1] == "s" and parts[2] in STAGES:
            return self._stage(turn, parts[2])
        return self._said(turn, [self._say(turn, STALE)])

    def _overview(self, turn: Turn) -> StepResult:
        if not turn.profile.onboarded:
            return self._said(turn, [self._say(turn, NEEDS_START)])
        key = OVERVIEW_SAFETY if turn.profile.safety_mode else OVERVIEW
        buttons = [(_label(s), f"{PREFIX}:s:{s}") for s in STAGES]
        return self._said(turn, [self._say(turn, key, buttons)])

    def _stage(self, turn: Turn, stage: str) -> StepResult:
        if not turn.profile.onboarded:
            return self._said(turn, [self._say(turn, NEEDS_START)])
        key = stage_key(stage)
        if stage == CROSSROADS and turn.profile.safety_mode:
            key = CROSSROADS_SAFETY
        at = STAGES.index(stage)
        buttons: list[ButtonSpec] = []
        if at + 1 < len(STAGES):
            following = STAGES[at + 1]
            buttons.append((_label(following), f"{PREFIX}:s:{following}"))
        buttons.append((ALL_STAGES, OPEN))
        return self._said(turn, [self._say(turn, key, buttons)])

    def _say(self, turn: Turn, key: str, buttons: Sequence[ButtonSpec] = ()) -> Reply:
        values = turn.profile.placeholders(self._kit.default_timezone)
        return self._kit.courier.say(key, values, buttons)

    @staticmethod
    def _said(turn: Turn, replies: list[Reply]) -> StepResult:
        """The replies, to the person alone: privately when pressed in a group."""
        if not turn.event.chat.is_private:
            replies = [replace(r, private_to=turn.event.user) for r in replies]
        return StepResult(tuple(replies), turn.state, turn.profile)
