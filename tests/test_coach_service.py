"""CoachService end to end on a real SQLite file, with a fake clock."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import Connection

from core.content import Content
from core.flows.engine import FlowState
from core.flows.scope import state_key
from core.profile import Profile, Situation
from core.service import CoachService, coach
from core.storage import Database, StateRepository, UserRepository, VersionedState
from core.types import Reply, UserRef
from tests.fakes import TEST_CIPHER, FakeClock, group_chat, person, pressed, private_chat, said

ONBOARDING_KEYS = [
    "onboarding.intro",
    "onboarding.consent",
    "onboarding.ask_timezone",
    "input.confirm_timezone",
    "onboarding.ask_time",
    "onboarding.ask_situation",
]


async def tap(service: CoachService, user: UserRef, last: list[Reply], choice: str) -> list[Reply]:
    """Press the button whose payload ends with ``choice`` on the last reply that has buttons."""
    buttons = next(r.buttons for r in reversed(last) if r.buttons)
    payload = next(b.payload for b in buttons if b.payload.endswith(f":{choice}"))
    return await service.handle(pressed(user, payload))


async def onboard(service: CoachService, user: UserRef, zone: str = "Berlin") -> list[str]:
    keys: list[str] = []
    replies = await service.handle(said(user, "/start"))
    keys += [r.key for r in replies]
    replies = await tap(service, user, replies, "adult")
    keys += [r.key for r in replies]
    replies = await tap(service, user, replies, "agree")
    keys += [r.key for r in replies]
    replies = await service.handle(said(user, zone))
    keys += [r.key for r in replies]
    replies = await tap(service, user, replies, "yes")
    keys += [r.key for r in replies]
    replies = await service.handle(said(user, "7:30am"))
    keys += [r.key for r in replies]
    replies = await tap(service, user, replies, "on_a_break")
    keys += [r.key for r in replies]
    return keys


async def stored_state(database: Database, user: UserRef) -> FlowState | None:
    key = state_key("user", private_chat(user), user)
    return (await database.run(lambda c: StateRepository(c).load(key))).state


async def stored_profile(database: Database, user: UserRef) -> Profile | None:
    return await database.run(lambda c: UserRepository(c).find(user))


async def test_onboarding_completes_and_stores_answers(
    service: CoachService, sqlite_db: Database
) -> None:
    sam = person()
    keys = await onboard(service, sam)
    assert keys == [*ONBOARDING_KEYS, "onboarding.suggest.on_a_break", "onboarding.done"]
    profile = await stored_profile(sqlite_db, sam)
    assert profile is not None and profile.onboarded
    assert (profile.is_adult, profile.consented, profile.timezone) == (True, True, "Europe/Berlin")
    assert profile.daily_time is not None and profile.daily_time.hour == 7
    assert profile.situation is Situation.ON_A_BREAK
    assert await stored_state(sqlite_db, sam) is None


async def test_intro_says_ai_coach_not_human_not_therapist(service: CoachService) -> None:
    text = (await service.handle(said(person(), "/start")))[0].text.lower()
    assert "ai coach" in text and "not a human" in text and "not a therapist" in text


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("Berlin", "Europe/Berlin"),
        ("Europe/Berlin", "Europe/Berlin"),
        ("UTC+2", "UTC+02:00"),
        ("+02:00", "UTC+02:00"),
    ],
)
async def test_time_zone_forms_are_confirmed_back(
    service: CoachService, typed: str, stored: str
) -> None:
    sam = person()
    replies = await service.handle(said(sam, "/start"))
    replies = await tap(service, sam, replies, "adult")
    replies = await tap(service, sam, replies, "agree")
    replies = await service.handle(said(sam, typed))
    assert replies[0].key == "input.confirm_timezone"
    assert stored in replies[0].text


async def test_unknown_time_zone_asks_again_without_moving(
    service: CoachService, sqlite_db: Database
) -> None:
    sam = person()
    replies = await service.handle(said(sam, "/start"))
    replies = await tap(service, sam, replies, "adult")
    await tap(service, sam, replies, "agree")
    replies = await service.handle(said(sam, "Atlantis"))
    assert [r.key for r in replies] == ["input.timezone_invalid"]
    assert await stored_state(sqlite_db, sam) == FlowState("onboarding", "ask_timezone")


async def test_under_18_gets_a_kind_end_and_no_coaching(
    service: CoachService, sqlite_db: Database
) -> None:
    kid = person("77")
    replies = await service.handle(said(kid, "/start"))
    replies = await tap(service, kid, replies, "minor")
    assert [r.key for r in replies] == ["onboarding.under_age"]
    assert await stored_state(sqlite_db, kid) is None
    assert (await service.handle(said(kid, "/settings")))[0].key == "settings.needs_start"


async def test_declining_consent_keeps_nothing(service: CoachService, sqlite_db: Database) -> None:
    sam = person()
    replies = await service.handle(said(sam, "/start"))
    replies = await tap(service, sam, replies, "adult")
    replies = await tap(service, sam, replies, "decline")
    assert [r.key for r in replies] == ["onboarding.declined"]
    profile = await stored_profile(sqlite_db, sam)
    assert profile is not None
    assert (profile.consented, profile.timezone, profile.daily_time, profile.onboarded) == (
        False,
        None,
        None,
        False,
    )


def waiting_steps(content: Content) -> list[FlowState]:
    return [
        FlowState(flow.id, name)
        for flow in content.flows.values()
        for name, step in flow.steps.items()
        if step.buttons or step.input is not None
    ]


async def put_in_state(database: Database, user: UserRef, state: FlowState) -> None:
    key = state_key("user", private_chat(user), user)

    def put(connection: Connection) -> None:
        states = StateRepository(connection)
        states.save(key, state, states.load(key).version, FakeClock().now())

    await database.run(put)


async def test_help_and_cancel_work_in_every_waiting_step(
    service: CoachService, sqlite_db: Database, content: Content
) -> None:
    sam = person()
    steps = waiting_steps(content)
    assert len(steps) >= 10
    for state in steps:
        await put_in_state(sqlite_db, sam, state)
        helped = await service.handle(said(sam, "/help"))
        assert [r.key for r in helped] == ["help.header"]
        assert content.texts.render("help.in_flow") in helped[0].text
        assert await stored_state(sqlite_db, sam) == state, state
        cancelled = await service.handle(said(sam, "/cancel"))
        assert [r.key for r in cancelled] == ["cancel.done"], state
        assert await stored_state(sqlite_db, sam) is None
    assert [r.key for r in await service.handle(said(sam, "/cancel"))] == ["cancel.nothing"]


async def test_help_lists_commands_grouped_for_the_chat_kind(
    service: CoachService, content: Content
) -> None:
    private = (await service.handle(said(person(), "/help")))[0].text
    group = (await service.handle(said(person(), "/help", group_chat())))[0].text
    for command in content.commands.values():
        assert (f"/{command.name} " in private) == (command.where != "group")
        assert (f"/{command.name} " in group) == (command.where != "private")
    for title in content.command_groups:
        assert content.texts.render(title.title) in private


async def test_a_restart_resumes_at_the_same_step(
    content: Content, sqlite_db: Database, clock: FakeClock
) -> None:
    sam = person()
    first = CoachService(content, sqlite_db, clock, cipher=TEST_CIPHER, default_timezone="UTC")
    replies = await first.handle(said(sam, "/start"))
    await tap(first, sam, replies, "adult")
    second = CoachService(content, sqlite_db, clock, cipher=TEST_CIPHER, default_timezone="UTC")
    replies = await second.handle(said(sam, "/start"))
    assert [r.key for r in replies] == ["start.resume", "onboarding.consent"]


async def test_settings_changes_time_zone_and_daily_time(
    service: CoachService, sqlite_db: Database
) -> None:
    sam = person()
    await onboard(service, sam)
    menu = await service.handle(said(sam, "/settings"))
    assert (
        menu[0].key == "settings.menu"
        and "Europe/Berlin" in menu[0].text
        and "07:30" in menu[0].text
    )
    asked = await tap(service, sam, menu, "timezone")
    assert asked[0].key == "settings.ask_timezone"
    confirm = await service.handle(said(sam, "new york"))
    saved = await tap(service, sam, confirm, "yes")
    assert saved[0].key == "settings.saved" and "America/New_York" in saved[0].text
    menu = await service.handle(said(sam, "/settings"))
    await tap(service, sam, menu, "time")
    saved = await service.handle(said(sam, "19:15"))
    assert saved[0].key == "settings.saved" and "19:15" in saved[0].text
    profile = await stored_profile(sqlite_db, sam)
    assert profile is not None and profile.timezone == "America/New_York"


async def test_start_after_onboarding_welcomes_back(service: CoachService) -> None:
    sam = person()
    await onboard(service, sam)
    assert [r.key for r in await service.handle(said(sam, "/start"))] == ["start.welcome_back"]


async def test_never_silent_in_private(service: CoachService) -> None:
    sam = person()
    assert [r.key for r in await service.handle(said(sam, "hello?"))] == ["common.pointer_new"]
    assert [r.key for r in await service.handle(said(sam, "/dance"))] == ["common.unknown_command"]
    await onboard(service, sam)
    assert [r.key for r in await service.handle(said(sam, "hello?"))] == ["common.pointer"]


async def test_group_behaviour(service: CoachService) -> None:
    sam, group = person(), group_chat()
    assert [r.key for r in await service.handle(said(sam, "/start", group))] == ["start.group"]
    assert [r.key for r in await service.handle(said(sam, "/settings", group))] == [
        "common.private_only"
    ]
    assert await service.handle(said(sam, "we argued again", group, addressed=False)) == []
    assert [r.key for r in await service.handle(said(sam, "hi Mend", group))] == [
        "common.pointer_new"
    ]


async def test_many_events_from_one_person_at_once_are_serialised(service: CoachService) -> None:
    sam = person()
    await service.handle(said(sam, "/start"))
    results = await asyncio.gather(*(service.handle(said(sam, "/help")) for _ in range(20)))
    assert all([r.key for r in replies] == ["help.header"] for replies in results)


async def test_stale_state_is_retried_once_then_the_person_is_asked_again(
    service: CoachService, sqlite_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    sam = person()
    replies = await service.handle(said(sam, "/start"))
    real_load = coach.load_turn
    stale_reads = {"left": 1}

    def load_stale(*args: Any) -> tuple[Profile, VersionedState]:
        profile, loaded = real_load(*args)
        if stale_reads["left"] > 0:
            stale_reads["left"] -= 1
            return profile, VersionedState(loaded.state, loaded.version - 1)
        return profile, loaded

    monkeypatch.setattr(coach, "load_turn", load_stale)
    retried = await tap(service, sam, replies, "adult")
    assert [r.key for r in retried] == ["onboarding.consent"]
    assert await stored_state(sqlite_db, sam) == FlowState("onboarding", "consent")

    stale_reads["left"] = 2
    busy = await service.handle(said(sam, "/cancel"))
    assert [r.key for r in busy] == ["common.busy"]
    assert await stored_state(sqlite_db, sam) == FlowState("onboarding", "consent")


async def test_onboarding_on_every_database(
    content: Content, database: Database, clock: FakeClock
) -> None:
    service = CoachService(content, database, clock, cipher=TEST_CIPHER, default_timezone="UTC")
    sam = person("31")
    keys = await onboard(service, sam, zone="UTC+5:30")
    assert keys[-1] == "onboarding.done"
    profile = await stored_profile(database, sam)
    assert profile is not None and profile.timezone == "UTC+05:30" and profile.onboarded
    assert await stored_state(database, sam) is None
