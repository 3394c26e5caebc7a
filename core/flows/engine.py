"""The flow engine: given a step and what a person did, say what comes next.

The engine is pure: no I/O and no clock of its own. The service loads state, calls the
engine, and stores what it returns.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from core.content import Content
from core.content.schema import ButtonSpec, FlowSpec, StepSpec
from core.flows.effects import EFFECTS
from core.flows.payload import FlowPayload, encode
from core.keys import USE_BUTTONS
from core.localtime import parse_local_time
from core.profile import Profile
from core.text_input import clean_text
from core.timezones import parse_timezone
from core.types import Button, Reply


@dataclass(frozen=True, slots=True)
class FlowState:
    """Where a conversation stands: a flow and the step waiting for an answer."""

    flow: str
    step: str


@dataclass(frozen=True, slots=True)
class StepResult:
    """What a transition produced.

    Attributes:
        replies: what to say, in order.
        state: the step now waiting for an answer, or None when the flow ended.
        profile: the profile after any answers and effects.
        notes: ``(note, text)`` pairs of a person's own words for the service to keep
            (encrypted) where ``note`` says.
        actions: named actions (``core.flows.effects.ACTIONS``) for the service to carry
            out on stored data, in order.
    """

    replies: tuple[Reply, ...]
    state: FlowState | None
    profile: Profile
    notes: tuple[tuple[str, str], ...] = ()
    actions: tuple[str, ...] = ()


class FlowEngine:
    """Runs the flows of one content tree."""

    def __init__(self, content: Content, *, default_timezone: str) -> None:
        self._content = content
        self._default_timezone = default_timezone

    def has(self, state: FlowState | None) -> bool:
        """True if ``state`` names a flow and step that exist in the current content."""
        if state is None:
            return False
        flow = self._content.flows.get(state.flow)
        return flow is not None and state.step in flow.steps

    def start(self, flow_id: str, profile: Profile, now: datetime) -> StepResult:
        """Enter ``flow_id`` at its first step."""
        flow = self._content.flows[flow_id]
        return self._enter(flow, flow.start, profile, now)

    def show(self, state: FlowState, profile: Profile) -> tuple[Reply, ...]:
        """Say the current step again, with its buttons, without changing anything."""
        flow = self._content.flows[state.flow]
        return (self._render(flow, state.step, flow.steps[state.step], profile),)

    def press(
        self, state: FlowState, press: FlowPayload, profile: Profile, now: datetime
    ) -> StepResult | None:
        """Apply a button press, or return None if it does not belong to the current step."""
        if (press.flow, press.step) != (state.flow, state.step) or not self.has(state):
            return None
        flow = self._content.flows[state.flow]
        button = _find(flow.steps[state.step].buttons, press.choice)
        if button is None:
            return None
        for name, value in button.set.items():
            profile = profile.with_field(name, value)
        if button.next is None:
            return StepResult((), None, profile)
        return self._enter(flow, button.next, profile, now)

    def answer(self, state: FlowState, text: str, profile: Profile, now: datetime) -> StepResult:
        """Apply typed text to the current step."""
        flow = self._content.flows[state.flow]
        step = flow.steps[state.step]
        if step.input is None:
            hint = self._say(USE_BUTTONS, profile)
            return StepResult((hint, *self.show(state, profile)), state, profile)
        if step.input.kind == "note":
            words = clean_text(text)
            if not words or len(words) > step.input.max_chars or step.input.note is None:
                return StepResult((self._say(step.input.invalid, profile),), state, profile)
            entered = self._enter(flow, step.input.next, profile, now)
            return replace(entered, notes=((step.input.note, words), *entered.notes))
        updated: Profile | None = None
        if step.input.kind == "timezone":
            zone = parse_timezone(text)
            updated = replace(profile, timezone=zone.name) if zone else None
        else:
            at = parse_local_time(text)
            updated = replace(profile, daily_time=at) if at else None
        if updated is None:
            return StepResult((self._say(step.input.invalid, profile),), state, profile)
        return self._enter(flow, step.input.next, updated, now)

    def _enter(self, flow: FlowSpec, step_id: str, profile: Profile, now: datetime) -> StepResult:
        replies: list[Reply] = []
        actions: list[str] = []
        for _ in range(len(flow.steps) + 1):
            step = flow.steps[step_id]
            if step.effect is not None:
                profile = EFFECTS[step.effect](profile, now)
            if step.action is not None:
                actions.append(step.action)
            replies.append(self._render(flow, step_id, step, profile))
            if step.next is None:
                state = None if step.end else FlowState(flow.id, step_id)
                return StepResult(tuple(replies), state, profile, actions=tuple(actions))
            step_id = step.next
        raise RuntimeError(f"flow {flow.id} loops through automatic steps")

    def _say(self, key: str, profile: Profile) -> Reply:
        values = profile.placeholders(self._default_timezone)
        return Reply(text=self._content.texts.render(key, values), key=key)

    def _render(self, flow: FlowSpec, step_id: str, step: StepSpec, profile: Profile) -> Reply:
        texts = self._content.texts
        values = profile.placeholders(self._default_timezone)
        buttons = tuple(
            Button(texts.render(b.label, values), encode(flow.id, step_id, b.choice))
            for b in step.buttons
        )
        return Reply(text=texts.render(step.say, values), key=step.say, buttons=buttons)


def _find(buttons: tuple[ButtonSpec, ...], choice: str) -> ButtonSpec | None:
    return next((b for b in buttons if b.choice == choice), None)
