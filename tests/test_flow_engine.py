"""The pure flow engine, driven by the real content."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, time

import pytest

from core.content import Content
from core.flows.engine import FlowEngine, FlowState, StepResult
from core.flows.payload import FlowPayload, decode, encode
from core.keys import USE_BUTTONS
from core.profile import Profile, Situation
from core.types import Platform, Reply, UserRef

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
LATER = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def engine(content: Content) -> FlowEngine:
    return FlowEngine(content, default_timezone="UTC")


@pytest.fixture
def profile() -> Profile:
    return Profile(user=UserRef(Platform.TELEGRAM, "1001", display_name="Sam"))


def keys_of(result: StepResult | tuple[Reply, ...]) -> list[str]:
    replies = result.replies if isinstance(result, StepResult) else result
    return [r.key for r in replies]


def press(engine: FlowEngine, result: StepResult, choice: str, now: datetime = NOW) -> StepResult:
    """Press the button of ``result``'s last reply whose payload carries ``choice``."""
    assert result.state is not None
    buttons = result.replies[-1].buttons
    payloads = [decode(b.payload) for b in buttons]
    match = [p for p in payloads if p is not None and p.choice == choice]
    assert match, f"no button {choice!r} in {payloads}"
    pressed = engine.press(result.state, match[0], result.profile, now)
    assert pressed is not None
    return pressed


def answer(engine: FlowEngine, result: StepResult, text: str) -> StepResult:
    assert result.state is not None
    return engine.answer(result.state, text, result.profile, NOW)


def onboard_until(engine: FlowEngine, profile: Profile, step: str) -> StepResult:
    """Walk the happy path of onboarding until ``step`` is waiting."""
    path: list[tuple[str, Callable[[StepResult], StepResult]]] = [
        ("intro", lambda r: press(engine, r, "adult")),
        ("consent", lambda r: press(engine, r, "agree")),
        ("ask_timezone", lambda r: answer(engine, r, "Berlin")),
        ("confirm_timezone", lambda r: press(engine, r, "yes")),
        ("ask_time", lambda r: answer(engine, r, "7:30am")),
    ]
    result = engine.start("onboarding", profile, NOW)
    for name, advance in path:
        assert result.state == FlowState("onboarding", name)
        if name == step:
            return result
        result = advance(result)
    assert result.state == FlowState("onboarding", step)
    return result


# ---------------------------------------------------------------- starting


def test_start_onboarding(engine: FlowEngine, profile: Profile) -> None:
    result = engine.start("onboarding", profile, NOW)
    assert keys_of(result) == ["onboarding.intro"]
    assert result.state == FlowState("onboarding", "intro")
    assert result.profile == profile
    intro = result.replies[0]
    assert "Sam" in intro.text
    assert "$" not in intro.text
    assert [decode(b.payload) for b in intro.buttons] == [
        FlowPayload("onboarding", "intro", "adult"),
        FlowPayload("onboarding", "intro", "minor"),
    ]
    assert all(b.label for b in intro.buttons)


def test_start_without_a_display_name(engine: FlowEngine) -> None:
    nameless = Profile(user=UserRef(Platform.DISCORD, "42"))
    result = engine.start("onboarding", nameless, NOW)
    assert "Hi there" in result.replies[0].text


def test_start_settings_uses_profile_values(engine: FlowEngine, profile: Profile) -> None:
    profile = replace(profile, timezone="Europe/Berlin", daily_time=time(7, 30))
    result = engine.start("settings", profile, NOW)
    assert keys_of(result) == ["settings.menu"]
    assert result.state == FlowState("settings", "menu")
    assert "Europe/Berlin" in result.replies[0].text
    assert "07:30" in result.replies[0].text


def test_start_settings_without_timezone_shows_default(content: Content, profile: Profile) -> None:
    engine = FlowEngine(content, default_timezone="UTC+05:30")
    assert "UTC+05:30" in engine.start("settings", profile, NOW).replies[0].text


def test_show_repeats_the_step_without_changes(engine: FlowEngine, profile: Profile) -> None:
    started = engine.start("onboarding", profile, NOW)
    assert started.state is not None
    assert engine.show(started.state, profile) == started.replies


# ---------------------------------------------------------------- buttons


def test_full_onboarding_happy_path(engine: FlowEngine, profile: Profile) -> None:
    result = engine.start("onboarding", profile, NOW)

    result = press(engine, result, "adult")
    assert keys_of(result) == ["onboarding.consent"]
    assert result.profile.is_adult is True
    assert result.state == FlowState("onboarding", "consent")

    result = press(engine, result, "agree")
    assert keys_of(result) == ["onboarding.ask_timezone"]
    assert result.profile.consented is True
    assert result.replies[0].buttons == ()

    result = answer(engine, result, "Berlin")
    assert keys_of(result) == ["input.confirm_timezone"]
    assert result.profile.timezone == "Europe/Berlin"
    assert "Europe/Berlin" in result.replies[0].text
    assert result.state == FlowState("onboarding", "confirm_timezone")

    result = press(engine, result, "yes")
    assert keys_of(result) == ["onboarding.ask_time"]

    result = answer(engine, result, "7:30am")
    assert keys_of(result) == ["onboarding.ask_situation"]
    assert result.profile.daily_time == time(7, 30)
    assert "07:30" in result.replies[0].text
    assert len(result.replies[0].buttons) == 4
    assert result.profile.onboarded_at is None

    result = press(engine, result, "struggling", now=LATER)
    assert keys_of(result) == ["onboarding.suggest.struggling", "onboarding.done"]
    assert result.state is None
    assert result.profile.situation is Situation.TOGETHER_STRUGGLING
    assert result.profile.onboarded_at == LATER
    assert result.profile.onboarded


@pytest.mark.parametrize(
    ("choice", "situation", "suggestion"),
    [
        ("struggling", Situation.TOGETHER_STRUGGLING, "onboarding.suggest.struggling"),
        ("on_a_break", Situation.ON_A_BREAK, "onboarding.suggest.on_a_break"),
        ("separated", Situation.SEPARATED, "onboarding.suggest.separated"),
        ("growing", Situation.TOGETHER_GROWING, "onboarding.suggest.growing"),
    ],
)
def test_situation_buttons_set_profile_and_chain_automatically(
    engine: FlowEngine, profile: Profile, choice: str, situation: Situation, suggestion: str
) -> None:
    result = press(engine, onboard_until(engine, profile, "ask_situation"), choice)
    assert keys_of(result) == [suggestion, "onboarding.done"]
    assert result.profile.situation is situation
    assert result.state is None
    assert result.profile.onboarded_at == NOW


def test_complete_onboarding_keeps_the_first_date(engine: FlowEngine, profile: Profile) -> None:
    earlier = datetime(2025, 1, 1, tzinfo=UTC)
    already = replace(profile, onboarded_at=earlier)
    result = press(engine, onboard_until(engine, already, "ask_situation"), "growing", now=LATER)
    assert result.profile.onboarded_at == earlier


def test_minor_is_turned_away(engine: FlowEngine, profile: Profile) -> None:
    result = press(engine, engine.start("onboarding", profile, NOW), "minor")
    assert keys_of(result) == ["onboarding.under_age"]
    assert result.state is None
    assert result.profile.is_adult is False
    assert not result.profile.onboarded


def test_declining_consent_forgets_setup(engine: FlowEngine, profile: Profile) -> None:
    set_up = replace(
        profile,
        consented=True,
        timezone="Europe/Berlin",
        daily_time=time(8, 0),
        situation=Situation.SEPARATED,
        onboarded_at=NOW,
    )
    result = press(engine, onboard_until(engine, set_up, "consent"), "decline")
    assert keys_of(result) == ["onboarding.declined"]
    assert result.state is None
    assert result.profile.consented is False
    assert result.profile.timezone is None
    assert result.profile.daily_time is None
    assert result.profile.situation is None
    assert result.profile.onboarded_at is None
    assert result.profile.is_adult is True


def test_fixing_the_timezone(engine: FlowEngine, profile: Profile) -> None:
    confirm = answer(engine, onboard_until(engine, profile, "ask_timezone"), "Berlin")
    retype = press(engine, confirm, "no")
    assert keys_of(retype) == ["input.retype_timezone"]
    assert retype.state == FlowState("onboarding", "retype_timezone")
    again = answer(engine, retype, "new york")
    assert keys_of(again) == ["input.confirm_timezone"]
    assert again.profile.timezone == "America/New_York"
    assert "America/New_York" in again.replies[0].text


def test_settings_change_daily_time(engine: FlowEngine, profile: Profile) -> None:
    profile = replace(profile, timezone="UTC+02:00", daily_time=time(8, 0))
    asked = press(engine, engine.start("settings", profile, NOW), "time")
    assert keys_of(asked) == ["settings.ask_time"]
    saved = answer(engine, asked, "7pm")
    assert keys_of(saved) == ["settings.saved"]
    assert saved.state is None
    assert saved.profile.daily_time == time(19, 0)
    assert "19:00" in saved.replies[0].text
    assert "UTC+02:00" in saved.replies[0].text


def test_settings_nothing(engine: FlowEngine, profile: Profile) -> None:
    result = press(engine, engine.start("settings", profile, NOW), "nothing")
    assert keys_of(result) == ["settings.unchanged"]
    assert result.state is None
    assert result.profile == profile


# ---------------------------------------------------------------- typed answers


@pytest.mark.parametrize("typed", ["UTC+2", "+02:00", "GMT+2"])
def test_valid_timezone_answer(engine: FlowEngine, profile: Profile, typed: str) -> None:
    result = answer(engine, onboard_until(engine, profile, "ask_timezone"), typed)
    assert result.profile.timezone == "UTC+02:00"
    assert result.state == FlowState("onboarding", "confirm_timezone")


@pytest.mark.parametrize("typed", ["Mars", "", "UTC+15", "x" * 5000])
def test_invalid_timezone_answer(engine: FlowEngine, profile: Profile, typed: str) -> None:
    waiting = onboard_until(engine, profile, "ask_timezone")
    result = answer(engine, waiting, typed)
    assert keys_of(result) == ["input.timezone_invalid"]
    assert result.state == waiting.state
    assert result.profile == waiting.profile
    assert result.profile.timezone is None


@pytest.mark.parametrize("typed", ["25", "13pm", "later", "7:3"])
def test_invalid_time_answer(engine: FlowEngine, profile: Profile, typed: str) -> None:
    waiting = onboard_until(engine, profile, "ask_time")
    result = answer(engine, waiting, typed)
    assert keys_of(result) == ["input.time_invalid"]
    assert result.state == FlowState("onboarding", "ask_time")
    assert result.profile.daily_time is None


def test_invalid_then_valid_answer(engine: FlowEngine, profile: Profile) -> None:
    waiting = onboard_until(engine, profile, "ask_time")
    retry = answer(engine, waiting, "soon")
    result = answer(engine, retry, "19h")
    assert keys_of(result) == ["onboarding.ask_situation"]
    assert result.profile.daily_time == time(19, 0)


def test_typing_at_a_buttons_step_hints_and_repeats(engine: FlowEngine, profile: Profile) -> None:
    started = engine.start("onboarding", profile, NOW)
    assert started.state is not None
    result = engine.answer(started.state, "yes I am", profile, NOW)
    assert keys_of(result) == [USE_BUTTONS, "onboarding.intro"]
    assert result.state == started.state
    assert result.profile == profile
    assert result.replies[1] == started.replies[0]
    assert result.replies[0].buttons == ()


# ---------------------------------------------------------------- stale and foreign presses


def test_stale_press_returns_none(engine: FlowEngine, profile: Profile) -> None:
    consent = onboard_until(engine, profile, "consent")
    assert consent.state is not None
    old = FlowPayload("onboarding", "intro", "adult")
    assert engine.press(consent.state, old, consent.profile, NOW) is None


def test_press_from_another_flow_returns_none(engine: FlowEngine, profile: Profile) -> None:
    started = engine.start("onboarding", profile, NOW)
    assert started.state is not None
    foreign = FlowPayload("settings", "intro", "adult")
    assert engine.press(started.state, foreign, profile, NOW) is None


def test_press_of_unknown_choice_returns_none(engine: FlowEngine, profile: Profile) -> None:
    started = engine.start("onboarding", profile, NOW)
    assert started.state is not None
    bogus = FlowPayload("onboarding", "intro", "maybe")
    assert engine.press(started.state, bogus, profile, NOW) is None


def test_press_in_a_state_that_no_longer_exists(engine: FlowEngine, profile: Profile) -> None:
    gone = FlowState("onboarding", "removed_step")
    payload = decode(encode("onboarding", "removed_step", "adult"))
    assert payload is not None
    assert engine.press(gone, payload, profile, NOW) is None


def test_press_at_an_input_step_returns_none(engine: FlowEngine, profile: Profile) -> None:
    waiting = onboard_until(engine, profile, "ask_timezone")
    assert waiting.state is not None
    payload = FlowPayload("onboarding", "ask_timezone", "yes")
    assert engine.press(waiting.state, payload, waiting.profile, NOW) is None


# ---------------------------------------------------------------- has()


def test_has(engine: FlowEngine) -> None:
    assert engine.has(FlowState("onboarding", "intro"))
    assert engine.has(FlowState("settings", "menu"))
    assert not engine.has(None)
    assert not engine.has(FlowState("nope", "intro"))
    assert not engine.has(FlowState("onboarding", "nope"))
    assert not engine.has(FlowState("settings", "intro"))


def test_every_waiting_state_reached_is_known(engine: FlowEngine, profile: Profile) -> None:
    for step in ["intro", "consent", "ask_timezone", "confirm_timezone", "ask_time"]:
        result = onboard_until(engine, profile, step)
        assert engine.has(result.state)
