"""``/phase`` (where a person is in the programme, and choosing a phase) and ``/today``.

``/phase`` shows their phase, its introduction and the week of their programme, with
buttons for the phase's practices, its "instead of this, try this" pairs, the signs that
it is time to move on, and choosing a phase. Choosing is theirs alone, in either
direction; the daily steps follow it from tomorrow. When their check-ins suggest they are
ready (:func:`core.program.phases.suggest_next_phase`), ``/phase`` says so gently and
offers the move, never makes it.

Buttons (``ph:<section>:<n>``, ``ph:choose``, ``ph:set:<n>``) work from any old message,
in any state, and leave the conversation where it was. In safety mode the programme
waits: ``/phase`` says so, and ``/today`` shows a step just for the person.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from core import keys
from core.flows.engine import StepResult
from core.profile import Profile
from core.program.phases import PHASES, week_of_programme
from core.service.courier import CoupleHandler, Turn
from core.service.desk import DeskKit, ProgramDesk
from core.service.nudges import DailySteps, phase_move_payload
from core.types import Button, Reply

__all__ = ["PREFIX", "SECTIONS", "PhaseDesk", "PhasePress", "decode_phase_press"]

PREFIX = "ph"
"""Payload prefix of ``/phase`` buttons."""

SECTIONS = ("practices", "instead", "move_on")
"""The parts of a phase a button shows: ``phase.<n>.<section>``."""
_SECTION_LABELS = {
    "practices": keys.PHASE_BUTTON_PRACTICES,
    "instead": keys.PHASE_BUTTON_INSTEAD,
    "move_on": keys.PHASE_BUTTON_MOVE_ON,
}
_CHOOSE = "choose"
_SET = "set"


@dataclass(frozen=True, slots=True)
class PhasePress:
    """A decoded ``/phase`` button.

    Attributes:
        kind: a section (``practices``, ``instead``, ``move_on``), ``choose`` or ``set``.
        phase: the phase it is about (None for ``choose``).
    """

    kind: str
    phase: int | None = None


def decode_phase_press(payload: str) -> PhasePress | None:
    """Read a ``ph:`` payload, or None when it is not a well-formed one."""
    parts = payload.split(":")
    if parts[0] != PREFIX:
        return None
    if parts[1:] == [_CHOOSE]:
        return PhasePress(_CHOOSE)
    if len(parts) != 3 or (parts[1] not in SECTIONS and parts[1] != _SET):
        return None
    if parts[2] not in {str(p) for p in PHASES}:
        return None
    return PhasePress(parts[1], int(parts[2]))


def encode_phase_press(kind: str, phase: int | None = None) -> str:
    """The payload of a ``/phase`` button."""
    return f"{PREFIX}:{kind}" if phase is None else f"{PREFIX}:{kind}:{phase}"


class PhaseDesk(ProgramDesk):
    """The phases of the repair programme, and today's step on request.

    Args:
        kit: what the service hands every programme desk.
    """

    def __init__(self, kit: DeskKit) -> None:
        self._texts = kit.content.texts
        self._default_timezone = kit.default_timezone
        self._steps = DailySteps(kit.content, kit.default_timezone)

    @property
    def commands(self) -> Mapping[str, CoupleHandler]:
        """``/phase`` and ``/today``."""
        return {"phase": self._phase, "today": self._today}

    # ------------------------------------------------------------------ commands

    def _phase(self, turn: Turn) -> StepResult:
        profile = turn.profile
        if not profile.onboarded:
            return self._answer(turn, self._say(keys.PHASE_NEEDS_START, profile))
        if profile.safety_mode:
            return self._answer(turn, self._say(keys.PHASE_SAFETY, profile))
        today = self._steps.today(profile, turn.now)
        week = week_of_programme(self._steps.first_day(profile, today), today)
        phase = _phase_of(profile)
        values = self._values(profile, phase, week=str(week))
        parts = [
            self._texts.render(keys.PHASE_WHERE, values),
            self._texts.render(f"phase.{phase}.intro"),
        ]
        buttons = self._section_buttons(phase)
        suggested = self._steps.suggestion(turn.connection, profile, turn.now)
        if suggested is not None:
            move = self._values(profile, suggested)
            parts.append(self._texts.render(keys.PHASE_SUGGEST, move))
            label = self._texts.render(keys.PHASE_BUTTON_MOVE, move)
            buttons = (*buttons, Button(label, phase_move_payload(suggested)))
        reply = Reply(text="\n\n".join(parts), key=keys.PHASE_WHERE, buttons=buttons)
        return self._answer(turn, reply)

    def _today(self, turn: Turn) -> StepResult:
        profile = turn.profile
        if not profile.onboarded:
            return self._answer(turn, self._say(keys.NUDGES_NOT_SET_UP, profile))
        spec = self._steps.shown_today(profile, turn.now)
        key = keys.NUDGE_TODAY_SAFETY if profile.safety_mode else keys.NUDGE_TODAY
        return self._answer(turn, self._steps.step(key, profile, spec))

    # ------------------------------------------------------------------ buttons

    def press(self, turn: Turn) -> StepResult | None:
        """Answer a ``ph:`` button; None for any other payload (or a garbled one)."""
        press = decode_phase_press(turn.event.payload or "")
        if press is None:
            return None
        profile = turn.profile
        if not profile.onboarded:
            return self._answer(turn, self._say(keys.PHASE_NEEDS_START, profile))
        if profile.safety_mode:
            return self._answer(turn, self._say(keys.PHASE_SAFETY, profile))
        if press.kind == _CHOOSE:
            buttons = tuple(
                Button(
                    self._texts.render(keys.PHASE_BUTTON_PICK, self._values(profile, phase)),
                    encode_phase_press(_SET, phase),
                )
                for phase in PHASES
            )
            reply = self._say(keys.PHASE_CHOOSE, profile)
            return self._answer(turn, replace(reply, buttons=buttons))
        phase = press.phase or _phase_of(profile)
        if press.kind == _SET:
            return self._choose(turn, phase)
        key = f"phase.{phase}.{press.kind}"
        others = tuple(b for b in self._section_buttons(phase) if b.payload != turn.event.payload)
        return self._answer(turn, Reply(text=self._texts.render(key), key=key, buttons=others))

    def _choose(self, turn: Turn, phase: int) -> StepResult:
        """Move to ``phase`` (either way), rebuilding the plan from tomorrow."""
        profile = turn.profile
        current = _phase_of(profile)
        values = self._values(profile, phase)
        if phase == current:
            reply = self._say(keys.PHASE_SAME, profile, values)
            return self._answer(turn, replace(reply, buttons=self._section_buttons(phase)))
        moved = replace(profile, phase=phase, phase_since=turn.now)
        moved = self._steps.rebuild(turn.connection, moved, turn.now)
        key = keys.PHASE_BACK if phase < current else keys.PHASE_CHOSEN
        text = "\n\n".join(
            (self._texts.render(key, values), self._texts.render(f"phase.{phase}.intro"))
        )
        reply = Reply(text=text, key=key, buttons=self._section_buttons(phase))
        return self._answer(turn, reply, moved)

    # ------------------------------------------------------------------ helpers

    def _section_buttons(self, phase: int) -> tuple[Button, ...]:
        sections = tuple(
            Button(self._texts.render(label), encode_phase_press(section, phase))
            for section, label in _SECTION_LABELS.items()
        )
        choose = Button(self._texts.render(keys.PHASE_BUTTON_CHOOSE), encode_phase_press(_CHOOSE))
        return (*sections, choose)

    def _values(self, profile: Profile, phase: int, **extra: str) -> dict[str, str]:
        return {
            **profile.placeholders(self._default_timezone),
            "phase_number": str(phase),
            "phase_name": self._texts.render(f"phase.{phase}.name"),
            **extra,
        }

    def _say(self, key: str, profile: Profile, values: Mapping[str, str] | None = None) -> Reply:
        shown = values if values is not None else profile.placeholders(self._default_timezone)
        return Reply(text=self._texts.render(key, shown), key=key)

    @staticmethod
    def _answer(turn: Turn, reply: Reply, profile: Profile | None = None) -> StepResult:
        """The reply (privately when pressed in a group); the conversation stays as it was."""
        if not turn.event.chat.is_private:
            reply = replace(reply, private_to=turn.event.user)
        return StepResult((reply,), turn.state, profile or turn.profile)


def _phase_of(profile: Profile) -> int:
    """Their stored phase, kept within 1 to 4."""
    return min(max(profile.phase, PHASES[0]), PHASES[-1])
