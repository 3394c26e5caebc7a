"""Daily steps end to end: schedules that follow the profile, /stop and /resume, the notice
after a refused delivery, quiet hours in /settings, and what NudgeDesk renders and answers.

A fake clock and a real SQLite file (PostgreSQL too where the ``database`` fixture runs).
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Connection, update

from core import keys
from core.content import Content
from core.flows.engine import FlowState
from core.flows.payload import MAX_PAYLOAD_BYTES
from core.flows.scope import state_key
from core.profile import Profile, Situation
from core.program.plan import decode_plan, decode_recent
from core.schedule.kinds import ItemKind
from core.schedule.local_time import next_due, spread_offset
from core.service import CoachService
from core.service.nudges import (
    NudgeDesk,
    NudgePress,
    NudgeVerb,
    SkipReason,
    decode_press,
    encode_press,
)
from core.service.rituals import WEEKLY_BUTTON
from core.service.tracking_desk import PROMISE_EVENING
from core.storage import Database, StateRepository, UserRepository
from core.storage.deliveries import Claimed
from core.storage.subscriptions import SubscriptionRepository, person_key
from core.storage.tables import action_log, users
from core.timezones import resolve_timezone
from core.types import Platform, Reply, UserRef
from scheduler.clockwork import Scheduler
from scheduler.pacing import UNLIMITED, SendGate
from tests.fakes import TEST_CIPHER, FakeClock, group_chat, person, pressed, private_chat, said
from tests.scheduler_fakes import PlainRenderer, ScriptedOutbox

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
"""The fake clock's start: 10:00 in Berlin, 04:00 in New York."""


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def keys_of(replies: list[Reply]) -> list[str]:
    return [r.key for r in replies]


async def tap(service: CoachService, user: UserRef, last: list[Reply], choice: str) -> list[Reply]:
    """Press the button whose payload ends with ``choice`` on the last reply that has buttons."""
    buttons = next(r.buttons for r in reversed(last) if r.buttons)
    payload = next(b.payload for b in buttons if b.payload.endswith(f":{choice}"))
    return await service.handle(pressed(user, payload))


async def onboard(
    service: CoachService,
    user: UserRef,
    zone: str = "Berlin",
    at: str = "9:15",
    situation: str = "struggling",
) -> list[Reply]:
    replies = await service.handle(said(user, "/start"))
    replies = await tap(service, user, replies, "adult")
    replies = await tap(service, user, replies, "agree")
    replies = await service.handle(said(user, zone))
    replies = await tap(service, user, replies, "yes")
    replies = await service.handle(said(user, at))
    return await tap(service, user, replies, situation)


async def due(
    database: Database, user: UserRef, kind: ItemKind = ItemKind.MORNING
) -> datetime | None:
    return await database.run(lambda c: SubscriptionRepository(c).due_at(user, kind))


async def profile_of(database: Database, user: UserRef) -> Profile:
    found = await database.run(lambda c: UserRepository(c).find(user))
    assert found is not None
    return found


async def state_of(database: Database, user: UserRef) -> FlowState | None:
    key = state_key("user", private_chat(user), user)
    return (await database.run(lambda c: StateRepository(c).load(key))).state


def offset(user: UserRef) -> timedelta:
    return spread_offset(person_key(user))


@pytest.fixture
def any_service(content: Content, database: Database, clock: FakeClock) -> CoachService:
    """The service on every configured database (SQLite always, PostgreSQL when set)."""
    return CoachService(content, database, clock, cipher=TEST_CIPHER, default_timezone="UTC")


@pytest.fixture
def desk(content: Content) -> NudgeDesk:
    return NudgeDesk(content, "UTC")


# --------------------------------------------------------------------------- schedule follows


async def test_onboarding_creates_the_morning_subscription_at_the_right_instant(
    any_service: CoachService, database: Database
) -> None:
    sam = person("2001")
    assert await due(database, sam) is None
    replies = await onboard(any_service, sam, at="9:15")
    assert replies[-1].key == "onboarding.done"
    # 10:00 in Berlin now, so tomorrow 09:15 CET (08:15 UTC), give or take Sam's spread.
    assert await due(database, sam) == utc("2026-03-02T08:15") + offset(sam)


async def test_a_time_inside_quiet_hours_waits_for_their_end(
    any_service: CoachService, database: Database
) -> None:
    sam = person("2002")
    await onboard(any_service, sam, at="7:30am")
    assert await due(database, sam) == utc("2026-03-02T07:00")  # 08:00 in Berlin, exactly


async def test_settings_time_change_reschedules_at_once(
    service: CoachService, sqlite_db: Database
) -> None:
    sam = person()
    await onboard(service, sam, at="9:15")
    menu = await service.handle(said(sam, "/settings"))
    await tap(service, sam, menu, "time")
    saved = await service.handle(said(sam, "18:00"))
    assert keys_of(saved) == ["settings.saved"]
    # Still 10:00 in Berlin: today at 18:00 CET.
    assert await due(sqlite_db, sam) == utc("2026-03-01T17:00") + offset(sam)


async def test_settings_zone_change_reschedules_at_once(
    service: CoachService, sqlite_db: Database
) -> None:
    sam = person()
    await onboard(service, sam, at="9:15")
    menu = await service.handle(said(sam, "/settings"))
    await tap(service, sam, menu, "timezone")
    confirm = await service.handle(said(sam, "New York"))
    await tap(service, sam, confirm, "yes")
    # 04:00 in New York now, so 09:15 EST today.
    assert await due(sqlite_db, sam) == utc("2026-03-01T14:15") + offset(sam)


async def test_settings_zone_change_across_a_dst_change(
    content: Content, sqlite_db: Database
) -> None:
    clock = FakeClock(utc("2026-03-28T12:00"))  # Berlin springs forward overnight
    service = CoachService(content, sqlite_db, clock, cipher=TEST_CIPHER, default_timezone="UTC")
    sam = person()
    await onboard(service, sam, zone="London", at="9:15")
    assert await due(sqlite_db, sam) == utc("2026-03-29T08:15") + offset(sam)  # BST
    menu = await service.handle(said(sam, "/settings"))
    await tap(service, sam, menu, "timezone")
    confirm = await service.handle(said(sam, "Berlin"))
    await tap(service, sam, confirm, "yes")
    assert await due(sqlite_db, sam) == utc("2026-03-29T07:15") + offset(sam)  # CEST


async def test_quiet_hours_setting_moves_a_due_time_out_of_them(
    service: CoachService, sqlite_db: Database
) -> None:
    sam = person()
    await onboard(service, sam, at="9:15")
    menu = await service.handle(said(sam, "/settings"))
    asked = await tap(service, sam, menu, "quiet")
    assert keys_of(asked) == ["settings.ask_quiet"] and "22:00–08:00" in asked[0].text
    saved = await tap(service, sam, asked, "q_09_17")
    assert keys_of(saved) == ["settings.saved", keys.NUDGES_INSIDE_QUIET]
    assert "09:00–17:00" in saved[0].text
    assert "09:15" in saved[1].text and "17:00" in saved[1].text
    profile = await profile_of(sqlite_db, sam)
    assert (profile.quiet_start, profile.quiet_end) == (time(9, 0), time(17, 0))
    # 09:15 falls in the new quiet hours: today at 17:00 CET instead, exactly.
    assert await due(sqlite_db, sam) == utc("2026-03-01T16:00")
    assert await state_of(sqlite_db, sam) is None


async def test_shorter_quiet_hours_let_an_early_step_through(
    service: CoachService, sqlite_db: Database
) -> None:
    sam = person()
    await onboard(service, sam, at="7:30")
    assert await due(sqlite_db, sam) == utc("2026-03-02T07:00")  # held until 08:00
    menu = await service.handle(said(sam, "/settings"))
    asked = await tap(service, sam, menu, "quiet")
    saved = await tap(service, sam, asked, "q_23_07")
    assert keys_of(saved) == ["settings.saved"]
    assert await due(sqlite_db, sam) == utc("2026-03-02T06:30") + offset(sam)
    menu = await service.handle(said(sam, "/settings"))
    asked = await tap(service, sam, menu, "quiet")
    saved = await tap(service, sam, asked, "q_default")
    assert keys_of(saved) == ["settings.saved", keys.NUDGES_INSIDE_QUIET]
    assert "22:00–08:00" in saved[0].text
    profile = await profile_of(sqlite_db, sam)
    assert (profile.quiet_start, profile.quiet_end) == (None, None)
    assert await due(sqlite_db, sam) == utc("2026-03-02T07:00")


async def test_an_unrelated_save_does_not_move_a_due_time(
    service: CoachService, sqlite_db: Database, clock: FakeClock
) -> None:
    sam = person()
    await onboard(service, sam, at="9:15")
    first = await due(sqlite_db, sam)
    clock.advance(days=1, hours=1)  # past the due time; the tick has not claimed it yet
    await service.handle(said(sam, "/safety"))
    await service.handle(said(sam, "/help"))
    assert await due(sqlite_db, sam) == first


async def test_delete_removes_the_subscription_and_does_not_recreate_it(
    service: CoachService, sqlite_db: Database
) -> None:
    sam = person()
    await onboard(service, sam, at="9:15")
    assert await due(sqlite_db, sam) is not None
    asked = await service.handle(said(sam, "/delete"))
    done = await tap(service, sam, asked, "yes")
    assert keys_of(done) == ["delete.done"]
    assert await due(sqlite_db, sam) is None

    def count(connection: Connection) -> int:
        return len(connection.exec_driver_sql("SELECT id FROM subscriptions").all())

    assert await sqlite_db.run(count) == 0


async def test_declining_or_a_minor_never_creates_a_subscription(
    service: CoachService, sqlite_db: Database
) -> None:
    kid = person("3001")
    replies = await service.handle(said(kid, "/start"))
    await tap(service, kid, replies, "minor")

    def count(connection: Connection) -> int:
        return len(connection.exec_driver_sql("SELECT id FROM subscriptions").all())

    assert await sqlite_db.run(count) == 0


# --------------------------------------------------------------------------- /stop and /resume


async def test_stop_and_resume(
    any_service: CoachService, database: Database, clock: FakeClock
) -> None:
    sam = person("2003")
    await onboard(any_service, sam, at="9:15")
    stopped = await any_service.handle(said(sam, "/stop"))
    assert keys_of(stopped) == [keys.NUDGES_STOPPED] and "/resume" in stopped[0].text
    assert await due(database, sam) is None
    assert (await profile_of(database, sam)).nudges_stopped
    again = await any_service.handle(said(sam, "/stop"))
    assert keys_of(again) == [keys.NUDGES_ALREADY_STOPPED]

    # Everything else keeps working, and a settings change does not switch nudges back on.
    menu = await any_service.handle(said(sam, "/settings"))
    await tap(any_service, sam, menu, "time")
    assert keys_of(await any_service.handle(said(sam, "8:45pm"))) == ["settings.saved"]
    assert await due(database, sam) is None

    clock.advance(hours=12)  # 22:00 in Berlin
    resumed = await any_service.handle(said(sam, "/resume"))
    assert keys_of(resumed) == [keys.NUDGES_RESUMED]
    assert "tomorrow around 20:45" in resumed[0].text
    assert await due(database, sam) == utc("2026-03-02T19:45") + offset(sam)
    assert not (await profile_of(database, sam)).nudges_stopped
    already = await any_service.handle(said(sam, "/resume"))
    assert keys_of(already) == [keys.NUDGES_ALREADY_ON]
    assert "tomorrow around 20:45" in already[0].text


async def test_a_later_time_after_todays_step_went_out_means_tomorrow(
    any_service: CoachService, database: Database, clock: FakeClock
) -> None:
    # One daily step a day: today's went out at 09:15, so 18:00 today would never come.
    sam = person("2010")
    await onboard(any_service, sam, at="9:15")
    clock.current = utc("2026-03-02T08:30")  # 09:30 in Berlin
    scheduler = Scheduler(database, PlainRenderer(), clock, retention_days=180)
    sender = scheduler.attach(Platform.TELEGRAM, ScriptedOutbox(), SendGate(UNLIMITED))
    assert (await scheduler.tick()).queued == 1
    assert await sender.drain() == 1
    menu = await any_service.handle(said(sam, "/settings"))
    await tap(any_service, sam, menu, "time")
    assert keys_of(await any_service.handle(said(sam, "18:00"))) == ["settings.saved"]
    assert await due(database, sam) == utc("2026-03-03T17:00") + offset(sam)
    already = await any_service.handle(said(sam, "/resume"))
    assert keys_of(already) == [keys.NUDGES_ALREADY_ON]
    assert "tomorrow around 18:00" in already[0].text
    # Without today's step, the same change still means today.
    kim = person("2011")
    await onboard(any_service, kim, at="7:30")
    menu = await any_service.handle(said(kim, "/settings"))
    await tap(any_service, kim, menu, "time")
    await any_service.handle(said(kim, "18:00"))
    assert await due(database, kim) == utc("2026-03-02T17:00") + offset(kim)
    assert "today around 18:00" in (await any_service.handle(said(kim, "/resume")))[0].text


async def test_resume_says_today_and_the_end_of_quiet_hours(
    service: CoachService, sqlite_db: Database, clock: FakeClock
) -> None:
    sam = person()
    await onboard(service, sam, at="7:00")
    await service.handle(said(sam, "/stop"))
    clock.current = utc("2026-03-02T05:00")  # 06:00 in Berlin, still quiet
    resumed = await service.handle(said(sam, "/resume"))
    assert "today around 08:00" in resumed[0].text
    assert await due(sqlite_db, sam) == utc("2026-03-02T07:00")


async def test_stop_and_resume_before_set_up(service: CoachService, sqlite_db: Database) -> None:
    sam = person()
    for command in ("/stop", "/resume"):
        assert keys_of(await service.handle(said(sam, command))) == [keys.NUDGES_NOT_SET_UP]
    await service.handle(said(sam, "/start"))
    assert keys_of(await service.handle(said(sam, "/stop"))) == [keys.NUDGES_NOT_SET_UP]
    assert await state_of(sqlite_db, sam) == FlowState("onboarding", "intro")


async def test_stop_and_resume_are_private(service: CoachService) -> None:
    sam = person()
    await onboard(service, sam)
    for command in ("/stop", "/resume"):
        replies = await service.handle(said(sam, command, group_chat()))
        assert keys_of(replies) == [keys.PRIVATE_ONLY]


async def test_stop_mid_flow_keeps_the_flow(service: CoachService, sqlite_db: Database) -> None:
    sam = person()
    await onboard(service, sam)
    menu = await service.handle(said(sam, "/settings"))
    await service.handle(said(sam, "/stop"))
    assert await state_of(sqlite_db, sam) == FlowState("settings", "menu")
    assert keys_of(await tap(service, sam, menu, "nothing")) == ["settings.unchanged"]


async def test_resume_in_safety_mode_says_steps_stay_held(
    service: CoachService, sqlite_db: Database
) -> None:
    sam = person()
    await onboard(service, sam, at="9:15")
    await service.handle(said(sam, "/stop"))
    profile = await profile_of(sqlite_db, sam)
    await sqlite_db.run(
        lambda c: UserRepository(c).save(replace(profile, safety_mode=True, safety_since=NOW), NOW)
    )
    replies = await service.handle(said(sam, "/resume"))
    assert keys_of(replies) == [keys.NUDGES_RESUMED_HELD]
    assert await due(sqlite_db, sam) is not None  # on, though NudgeDesk holds every nudge


async def test_help_lists_stop_and_resume_in_private_only(service: CoachService) -> None:
    private = (await service.handle(said(person(), "/help")))[0].text
    group = (await service.handle(said(person(), "/help", group_chat())))[0].text
    assert "/stop " in private and "/resume " in private
    assert "/stop " not in group and "/resume " not in group


# --------------------------------------------------------------------------- unreachable


async def mark_unreachable(database: Database, user: UserRef) -> None:
    """What the sender records when the platform refuses a nudge to a private chat."""

    def mark(connection: Connection) -> None:
        connection.execute(
            update(users)
            .where(
                users.c.platform == user.platform.value, users.c.platform_user_id == user.user_id
            )
            .values(unreachable_since=NOW)
        )
        SubscriptionRepository(connection).set_active(user, False, NOW)

    await database.run(mark)


async def test_the_unreachable_notice_is_said_once(
    any_service: CoachService, database: Database
) -> None:
    sam = person("2004")
    await onboard(any_service, sam, at="9:15")
    await mark_unreachable(database, sam)
    first = await any_service.handle(said(sam, "hello"))
    assert keys_of(first) == [keys.NUDGES_UNREACHABLE, keys.POINTER]
    assert "/resume" in first[0].text
    profile = await profile_of(database, sam)
    assert profile.nudges_stopped and profile.unreachable_since is None
    assert await due(database, sam) is None
    assert keys_of(await any_service.handle(said(sam, "hello"))) == [keys.POINTER]
    resumed = await any_service.handle(said(sam, "/resume"))
    assert keys_of(resumed) == [keys.NUDGES_RESUMED]
    assert await due(database, sam) == utc("2026-03-02T08:15") + offset(sam)


async def test_the_unreachable_notice_comes_before_a_button_answer_too(
    service: CoachService, sqlite_db: Database
) -> None:
    sam = person()
    await onboard(service, sam)
    await mark_unreachable(sqlite_db, sam)
    replies = await service.handle(pressed(sam, encode_press(NudgeVerb.DONE, "appreciate")))
    assert keys_of(replies) == [keys.NUDGES_UNREACHABLE, keys.NUDGE_DONE]


async def test_resume_while_unreachable_needs_no_notice(
    service: CoachService, sqlite_db: Database
) -> None:
    sam = person()
    await onboard(service, sam, at="9:15")
    await mark_unreachable(sqlite_db, sam)
    assert keys_of(await service.handle(said(sam, "/resume"))) == [keys.NUDGES_RESUMED]
    assert await due(sqlite_db, sam) is not None
    stopped = await profile_of(sqlite_db, sam)
    assert not stopped.nudges_stopped and stopped.unreachable_since is None


async def test_the_unreachable_notice_waits_in_groups_and_after_a_worrying_message(
    service: CoachService, sqlite_db: Database
) -> None:
    sam = person()
    await onboard(service, sam)
    await mark_unreachable(sqlite_db, sam)
    in_group = await service.handle(said(sam, "/help", group_chat()))
    assert keys.NUDGES_UNREACHABLE not in keys_of(in_group)
    worried = await service.handle(said(sam, "I want to kill myself"))
    assert keys.NUDGES_UNREACHABLE not in keys_of(worried)
    assert worried[0].key == keys.SAFETY_ACK_SELF_HARM
    assert (await profile_of(sqlite_db, sam)).unreachable_since is not None
    later = await service.handle(said(sam, "/help"))
    assert keys_of(later)[0] == keys.NUDGES_UNREACHABLE


# --------------------------------------------------------------------------- buttons


async def test_nudge_buttons_work_mid_flow_without_changing_it(
    service: CoachService, sqlite_db: Database
) -> None:
    sam = person()
    await onboard(service, sam)
    menu = await service.handle(said(sam, "/settings"))
    before = await profile_of(sqlite_db, sam)
    for verb, expected in [
        (NudgeVerb.DONE, keys.NUDGE_DONE),
        (NudgeVerb.SKIP, keys.NUDGE_SKIPPED),
        (NudgeVerb.SWAP, keys.NUDGE_SWAPPED),
    ]:
        replies = await service.handle(pressed(sam, encode_press(verb, "no_defend")))
        assert keys_of(replies) == [expected]
        assert await state_of(sqlite_db, sam) == FlowState("settings", "menu")
    for verb, expected in [
        (NudgeVerb.KEPT, keys.NUDGE_KEPT),
        (NudgeVerb.NOT_TODAY, keys.NUDGE_NOT_TODAY),
    ]:
        assert keys_of(await service.handle(pressed(sam, encode_press(verb)))) == [expected]
    assert await state_of(sqlite_db, sam) == FlowState("settings", "menu")
    # A skip and a swap rebuild the daily-step plan; nothing else about Sam changes.
    after = await profile_of(sqlite_db, sam)
    assert replace(after, plan=before.plan, recent=before.recent) == before
    # The flow's own buttons still work afterwards.
    assert keys_of(await tap(service, sam, menu, "nothing")) == ["settings.unchanged"]


async def test_nudge_buttons_work_during_onboarding(
    service: CoachService, sqlite_db: Database
) -> None:
    sam = person()
    intro = await service.handle(said(sam, "/start"))
    replies = await service.handle(pressed(sam, encode_press(NudgeVerb.SWAP, "appreciate")))
    assert keys_of(replies) == [keys.NUDGES_NOT_SET_UP]
    replies = await service.handle(pressed(sam, encode_press(NudgeVerb.DONE, "appreciate")))
    assert keys_of(replies) == [keys.NUDGE_DONE]
    assert await state_of(sqlite_db, sam) == FlowState("onboarding", "intro")
    assert keys_of(await tap(service, sam, intro, "adult")) == ["onboarding.consent"]


async def test_swap_gives_a_different_step_with_the_same_buttons(
    service: CoachService, content: Content
) -> None:
    sam = person()
    await onboard(service, sam)
    current = "no_defend"
    for _ in range(6):
        [swapped] = await service.handle(pressed(sam, encode_press(NudgeVerb.SWAP, current)))
        assert swapped.key == keys.NUDGE_SWAPPED
        presses = [decode_press(b.payload) for b in swapped.buttons]
        assert [p.verb if p else None for p in presses] == [
            NudgeVerb.DONE,
            NudgeVerb.SKIP,
            NudgeVerb.SWAP,
        ]
        new = {p.action for p in presses if p}
        assert len(new) == 1 and current not in new
        (current,) = new
        assert content.texts.render(f"actions.{current}.do") in swapped.text
    # The same press gives the same answer: a double tap does not flicker.
    first = await service.handle(pressed(sam, encode_press(NudgeVerb.SWAP, "no_defend")))
    second = await service.handle(pressed(sam, encode_press(NudgeVerb.SWAP, "no_defend")))
    assert first == second


async def test_swap_in_safety_mode_offers_a_step_just_for_them(
    service: CoachService, sqlite_db: Database, content: Content
) -> None:
    sam = person()
    await onboard(service, sam)
    profile = await profile_of(sqlite_db, sam)
    await sqlite_db.run(
        lambda c: UserRepository(c).save(replace(profile, safety_mode=True, safety_since=NOW), NOW)
    )
    [reply] = await service.handle(pressed(sam, encode_press(NudgeVerb.SWAP, "appreciate")))
    assert reply.key == keys.NUDGE_SWAPPED
    spec = content.program.action(action_of(reply))
    assert spec is not None and spec.self_focused
    # The plan was rebuilt for safety mode: every coming step is one for Sam alone.
    plan = decode_plan((await profile_of(sqlite_db, sam)).plan)
    assert plan.ids and plan.basis.endswith("1")
    for action in plan.ids[1:]:
        found = content.program.action(action)
        assert found is not None and found.self_focused, action


async def test_a_nudge_button_pressed_in_a_group_answers_privately(
    service: CoachService,
) -> None:
    sam = person()
    await onboard(service, sam)
    replies = await service.handle(pressed(sam, encode_press(NudgeVerb.KEPT), group_chat()))
    assert keys_of(replies) == [keys.NUDGE_KEPT] and replies[0].private_to == sam


async def logged(database: Database) -> list[tuple[str, str, str]]:
    """Every action-log row: (local date, step, outcome)."""

    def read(connection: Connection) -> list[tuple[str, str, str]]:
        rows = connection.execute(action_log.select().order_by(action_log.c.id)).mappings()
        return [(r["local_date"], r["action"], r["outcome"]) for r in rows]

    return await database.run(read)


async def morning_of(service: CoachService, database: Database, user: UserRef, day: str) -> str:
    """The step a morning for ``user`` on local ``day`` shows, as the scheduler renders it."""
    profile = await profile_of(database, user)
    reply = service.nudges.render(claimed(ItemKind.MORNING, profile, day), NOW).reply
    assert reply is not None
    return action_of(reply)


async def test_done_is_logged_once_and_asks_the_follow_up_question(
    service: CoachService, sqlite_db: Database, content: Content
) -> None:
    sam = person()
    await onboard(service, sam)
    step = await morning_of(service, sqlite_db, sam, "2026-03-01")
    for _ in range(2):  # a double tap notes it once
        replies = await service.handle(pressed(sam, encode_press(NudgeVerb.DONE, step)))
        assert keys_of(replies) == [keys.NUDGE_DONE]
        assert content.texts.render(f"actions.{step}.ask") in replies[0].text
    assert await logged(sqlite_db) == [("2026-03-01", step, "done")]


async def test_skip_is_logged_and_keeps_todays_step_out_of_the_plan(
    service: CoachService, sqlite_db: Database
) -> None:
    sam = person()
    await onboard(service, sam)
    step = await morning_of(service, sqlite_db, sam, "2026-03-01")
    replies = await service.handle(pressed(sam, encode_press(NudgeVerb.SKIP, step)))
    assert keys_of(replies) == [keys.NUDGE_SKIPPED]
    assert await logged(sqlite_db) == [("2026-03-01", step, "skipped")]
    plan = decode_plan((await profile_of(sqlite_db, sam)).plan)
    today = date(2026, 3, 1).toordinal()
    assert plan.start == today and plan.at(today) == step  # today's morning is unchanged
    assert step not in plan.ids[1:]


async def test_swap_shows_a_step_not_seen_lately_nor_planned_soon(
    service: CoachService, sqlite_db: Database
) -> None:
    sam = person()
    await onboard(service, sam)
    today = date(2026, 3, 1).toordinal()
    before = decode_plan((await profile_of(sqlite_db, sam)).plan)
    step = await morning_of(service, sqlite_db, sam, "2026-03-01")
    [swapped] = await service.handle(pressed(sam, encode_press(NudgeVerb.SWAP, step)))
    other = action_of(swapped)
    assert other != step
    assert other not in {before.at(day) for day in range(today - 45, today + 46)}
    after = await profile_of(sqlite_db, sam)
    plan = decode_plan(after.plan)
    assert other not in {plan.at(day) for day in range(today + 1, today + 46)}
    assert plan.at(today) == step  # a resend of this morning is still the same
    assert (today, other, step) in {
        (s.day, s.action, s.instead_of) for s in decode_recent(after.recent)
    }
    assert await logged(sqlite_db) == [("2026-03-01", step, "swapped")]
    # A double tap gives the same step and changes nothing more.
    again = await service.handle(pressed(sam, encode_press(NudgeVerb.SWAP, step)))
    assert again == [swapped]
    assert await profile_of(sqlite_db, sam) == after
    assert len(await logged(sqlite_db)) == 1


async def test_every_button_answer_is_short_and_fully_rendered(
    service: CoachService, content: Content
) -> None:
    sam = person()
    await onboard(service, sam)
    for verb in NudgeVerb:
        action = "appreciate" if verb in (NudgeVerb.DONE, NudgeVerb.SKIP, NudgeVerb.SWAP) else None
        for reply in await service.handle(pressed(sam, encode_press(verb, action))):
            assert reply.text.strip() and not re.search(r"\$[a-z_{]", reply.text), reply.key
            assert len(reply.text) <= 800, reply.key


@pytest.mark.parametrize(
    "payload",
    [
        "n",
        "n:",
        "n:done",
        "n:swap",
        "n:skip:",
        "n:done:unknown_step",
        "n:kept:appreciate",
        "n:not_today:x",
        "n:DONE:appreciate",
        "n:done:appreciate:extra",
        "n:wave",
        "nudge:done:appreciate",
    ],
)
async def test_malformed_nudge_payloads_are_stale(
    service: CoachService, sqlite_db: Database, payload: str
) -> None:
    sam = person()
    await onboard(service, sam)
    before = await profile_of(sqlite_db, sam)
    assert service.nudges.decode(payload) is None
    replies = await service.handle(pressed(sam, payload))
    assert keys_of(replies) == [keys.STALE_BUTTON]
    assert await profile_of(sqlite_db, sam) == before


def test_every_nudge_payload_is_short_and_reads_back(desk: NudgeDesk, content: Content) -> None:
    payloads = [encode_press(NudgeVerb.KEPT), encode_press(NudgeVerb.NOT_TODAY)]
    for action in content.program.actions:
        for verb in (NudgeVerb.DONE, NudgeVerb.SKIP, NudgeVerb.SWAP):
            payloads.append(encode_press(verb, action.id))
    for payload in payloads:
        assert len(payload.encode()) <= MAX_PAYLOAD_BYTES
        press = desk.decode(payload)
        assert press is not None and decode_press(payload) == press
        assert encode_press(press.verb, press.action) == payload


def test_the_step_ids_of_the_first_daily_steps_still_read(desk: NudgeDesk) -> None:
    """Buttons under messages sent before the catalogue came still work."""
    for old in [
        "no_defend",
        "no_blame",
        "no_late_message",
        "no_audience",
        "give_space",
        "slow_breath",
        "own_it",
        "get_curious",
        "steady_yourself",
        "keep_a_promise",
        "appreciate",
        "listen_ten",
        "quiet_help",
        "easier_evening",
    ]:
        assert desk.decode(encode_press(NudgeVerb.DONE, old)) == NudgePress(NudgeVerb.DONE, old)


@given(st.text(max_size=80))
def test_any_text_decodes_to_nothing_or_to_a_well_formed_press(payload: str) -> None:
    press = decode_press(payload)
    if press is not None:
        assert encode_press(press.verb, press.action) == payload


# --------------------------------------------------------------------------- NudgeDesk.render


def onboarded(**changes: Any) -> Profile:
    profile = Profile(
        user=UserRef(Platform.TELEGRAM, "4001", display_name="Sam"),
        is_adult=True,
        consented=True,
        timezone="Europe/Berlin",
        daily_time=time(7, 30),
        situation=Situation.TOGETHER_STRUGGLING,
        onboarded_at=NOW,
    )
    return replace(profile, **changes)


def claimed(
    kind: ItemKind,
    profile: Profile | None,
    local_date: str = "2026-03-02",
    payload: dict[str, str] | None = None,
) -> Claimed:
    return Claimed(
        id=1,
        item="sub:1"
        if kind in (ItemKind.MORNING, ItemKind.EVENING, ItemKind.WEEKLY)
        else "timer:k",
        local_date=local_date,
        kind=kind,
        platform=Platform.TELEGRAM,
        chat=None,
        profile=profile,
        payload=payload or {},
    )


def action_of(reply: Reply) -> str:
    presses = {decode_press(b.payload) for b in reply.buttons}
    actions = {p.action for p in presses if p is not None}
    assert len(actions) == 1, reply.buttons
    (action,) = actions
    assert action is not None
    return action


def test_morning_renders_a_step_with_done_skip_and_swap(desk: NudgeDesk, content: Content) -> None:
    rendered = desk.render(claimed(ItemKind.MORNING, onboarded()), NOW)
    assert rendered.reason is None and rendered.reply is not None
    reply = rendered.reply
    assert reply.key == keys.NUDGE_MORNING and "Sam" in reply.text
    labels = [b.label for b in reply.buttons]
    assert labels == [
        content.texts.render(keys.NUDGE_BUTTON_DONE),
        content.texts.render(keys.NUDGE_BUTTON_SKIP),
        content.texts.render(keys.NUDGE_BUTTON_SWAP),
    ]
    assert content.texts.render(f"actions.{action_of(reply)}.do") in reply.text


def test_morning_is_the_same_on_a_resend_and_never_yesterdays(desk: NudgeDesk) -> None:
    for user_id in ("4001", "4002", "4003", "77"):
        for situation in Situation:
            profile = onboarded(
                user=UserRef(Platform.TELEGRAM, user_id, display_name="Sam"), situation=situation
            )
            previous = None
            for day in range(120):
                local_date = (date(2026, 3, 1) + timedelta(days=day)).isoformat()
                item = claimed(ItemKind.MORNING, profile, local_date)
                first = desk.render(item, NOW).reply
                again = desk.render(item, NOW + timedelta(hours=3)).reply
                assert first is not None and first == again
                action = action_of(first)
                assert action != previous, (user_id, situation, local_date)
                previous = action


def test_without_a_plan_a_person_walks_their_phase_pool_without_repeats(
    desk: NudgeDesk, content: Content
) -> None:
    """Someone set up before plans existed: a fixed walk, each step once per lap."""
    pool = [a.id for a in content.program.actions if a.phase == 1]
    assert len(pool) > 45
    profile = onboarded()
    assert profile.plan == ""
    walked = []
    for day in range(len(pool)):
        local_date = (date(2026, 3, 1) + timedelta(days=day)).isoformat()
        reply = desk.render(claimed(ItemKind.MORNING, profile, local_date), NOW).reply
        assert reply is not None
        walked.append(action_of(reply))
    assert sorted(walked) == sorted(pool)


def test_people_apart_only_get_steps_that_fit(desk: NudgeDesk, content: Content) -> None:
    allowed = {a.id for a in content.program.actions if a.mode == "solo"}
    for situation in (Situation.ON_A_BREAK, Situation.SEPARATED):
        profile = onboarded(situation=situation)
        for day in range(60):
            local_date = (date(2026, 3, 1) + timedelta(days=day)).isoformat()
            reply = desk.render(claimed(ItemKind.MORNING, profile, local_date), NOW).reply
            assert reply is not None and action_of(reply) in allowed
    together = set()
    for day in range(60):
        local_date = (date(2026, 3, 1) + timedelta(days=day)).isoformat()
        reply = desk.render(claimed(ItemKind.MORNING, onboarded(), local_date), NOW).reply
        assert reply is not None
        together.add(action_of(reply))
    assert together - allowed  # people together also get steps done with their partner


def test_a_plan_step_that_no_longer_fits_is_never_shown(desk: NudgeDesk, content: Content) -> None:
    """A plan built while together, rendered after a move apart the plan has not caught up
    with (it catches up in the next turn): the morning still offers a solo step."""
    together = [a.id for a in content.program.actions if a.mode == "together"][:3]
    start = date(2026, 3, 2).toordinal()
    plan = f"{start}:100:{','.join(together)}"
    profile = onboarded(situation=Situation.SEPARATED, plan=plan)
    for day in range(3):
        local_date = (date(2026, 3, 2) + timedelta(days=day)).isoformat()
        reply = desk.render(claimed(ItemKind.MORNING, profile, local_date), NOW).reply
        assert reply is not None
        spec = content.program.action(action_of(reply))
        assert spec is not None and spec.mode == "solo"
    with_plan = desk.render(claimed(ItemKind.MORNING, onboarded(plan=plan)), NOW).reply
    assert with_plan is not None and action_of(with_plan) == together[0]


def test_evening_weekly_and_break_end(desk: NudgeDesk, content: Content) -> None:
    evening = desk.render(claimed(ItemKind.EVENING, onboarded()), NOW).reply
    assert evening is not None and evening.key == keys.NUDGE_EVENING
    assert [decode_press(b.payload) for b in evening.buttons] == [
        NudgePress(NudgeVerb.KEPT),
        NudgePress(NudgeVerb.NOT_TODAY),
    ]
    weekly = desk.render(claimed(ItemKind.WEEKLY, onboarded()), NOW).reply
    assert weekly is not None and weekly.key == keys.NUDGE_WEEKLY
    ended = desk.render(claimed(ItemKind.BREAK_END, onboarded()), NOW).reply
    assert ended is not None and ended.key == keys.NUDGE_BREAK_END
    assert "I feel" in ended.text and "I need" in ended.text
    group_timer = desk.render(claimed(ItemKind.BREAK_END, None), NOW).reply
    assert group_timer is not None and group_timer.key == keys.NUDGE_BREAK_END


def test_a_break_end_in_safety_mode_is_about_self_care(desk: NudgeDesk) -> None:
    profile = onboarded(safety_mode=True, safety_since=NOW)
    reply = desk.render(claimed(ItemKind.BREAK_END, profile), NOW).reply
    assert reply is not None and reply.key == keys.NUDGE_BREAK_END_SELF_CARE
    # A break end goes out even to someone who said /stop: they called the break.
    stopped = desk.render(claimed(ItemKind.BREAK_END, onboarded(nudges_stopped=True)), NOW)
    assert stopped.reply is not None


def test_a_reminder_says_its_content_key(desk: NudgeDesk, content: Content) -> None:
    item = claimed(ItemKind.REMINDER, onboarded(), payload={"say": keys.NUDGE_WEEKLY})
    reply = desk.render(item, NOW).reply
    assert reply is not None and reply.key == keys.NUDGE_WEEKLY
    for payload in ({"say": "nudges.no_such_text"}, {}, {"say": ""}):
        rendered = desk.render(claimed(ItemKind.REMINDER, onboarded(), payload=payload), NOW)
        assert rendered == type(rendered)(None, SkipReason.UNKNOWN_TEXT)


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"safety_mode": True, "safety_since": NOW}, SkipReason.SAFETY_MODE),
        ({"nudges_stopped": True}, SkipReason.STOPPED),
        ({"onboarded_at": None}, SkipReason.NOT_ONBOARDED),
        ({"unreachable_since": NOW}, SkipReason.UNREACHABLE),
    ],
)
@pytest.mark.parametrize(
    "kind", [ItemKind.MORNING, ItemKind.EVENING, ItemKind.WEEKLY, ItemKind.REMINDER]
)
def test_nudges_are_held(
    desk: NudgeDesk, kind: ItemKind, changes: dict[str, Any], reason: SkipReason
) -> None:
    """A check-in's "still open" reminder too: /stop says no more check-in reminders."""
    payload = {"say": "ritual.checkin.nudge"} if kind is ItemKind.REMINDER else None
    rendered = desk.render(claimed(kind, onboarded(**changes), payload=payload), NOW)
    assert rendered.reply is None and rendered.reason is reason


def test_a_nudge_for_no_one_is_not_sent(desk: NudgeDesk) -> None:
    rendered = desk.render(claimed(ItemKind.MORNING, None), NOW)
    assert rendered.reply is None and rendered.reason is SkipReason.NO_PERSON


def test_a_break_holds_nudges_but_never_the_break_end(desk: NudgeDesk) -> None:
    for kind in (ItemKind.MORNING, ItemKind.EVENING, ItemKind.WEEKLY):
        held = desk.render(replace(claimed(kind, onboarded()), on_break=True), NOW)
        assert held.reply is None and held.reason is SkipReason.ON_BREAK
    assert desk.render(claimed(ItemKind.MORNING, onboarded()), NOW).reply is not None
    end = replace(claimed(ItemKind.BREAK_END, onboarded()), on_break=True)
    assert desk.render(end, NOW).reply is not None


def test_a_bad_local_date_falls_back_to_today(desk: NudgeDesk) -> None:
    good = desk.render(claimed(ItemKind.MORNING, onboarded(), "2026-03-01"), NOW).reply
    bad = desk.render(claimed(ItemKind.MORNING, onboarded(), "not a date"), NOW).reply
    assert good == bad


# --------------------------------------------------------------------------- wording


NUDGE_TEXT_LIMIT = 400
"""Phone-sized: a daily step reads in one glance."""


def test_every_nudge_text_exists_is_short_and_fully_rendered(
    desk: NudgeDesk, content: Content
) -> None:
    texts = content.texts.by_key
    for key in keys.NUDGE_KEYS:
        assert key in texts
    for action in content.program.actions:
        for key in (action.do_key, action.ask_key):
            assert len(texts[key]) <= NUDGE_TEXT_LIMIT, key
            assert "$" not in texts[key]
    rendered: list[Reply] = []
    for kind in ItemKind:
        payload = (
            {"say": keys.NUDGE_EVENING} if kind in (ItemKind.REMINDER, ItemKind.NOTICE) else None
        )
        reply = desk.render(claimed(kind, onboarded(), payload=payload), NOW).reply
        assert reply is not None
        rendered.append(reply)
    profile = onboarded()
    rendered += [desk.stop(profile)[0], desk.resume(replace(profile, nudges_stopped=True), NOW)[0]]
    rendered.append(desk.unreachable_notice(profile)[0])
    for reply in rendered:
        assert reply.text.strip() and not re.search(r"\$[a-z_{]", reply.text), reply.key
        assert len(reply.text) <= NUDGE_TEXT_LIMIT * 2, reply.key


def test_the_desk_refuses_content_without_a_step_text(content: Content) -> None:
    from core.content import ContentError
    from core.content.catalog import Content as ContentType
    from core.content.catalog import Texts

    by_key = dict(content.texts.by_key)
    del by_key["actions.appreciate.do"]
    broken = ContentType(
        locales={"en": Texts("en", by_key)},
        default_locale="en",
        flows=content.flows,
        command_groups=content.command_groups,
        program=content.program,
    )
    with pytest.raises(ContentError, match=re.escape("actions.appreciate.do")):
        NudgeDesk(broken, "UTC")
    no_catalogue = replace(broken, locales=content.locales, program=type(content.program)())
    with pytest.raises(ContentError, match="no micro-actions"):
        NudgeDesk(no_catalogue, "UTC")


def test_when_next_matches_the_subscription(desk: NudgeDesk) -> None:
    profile = onboarded(daily_time=time(9, 15))
    zone = resolve_timezone("Europe/Berlin")
    expected = next_due(zone, time(9, 15), NOW, offset=spread_offset(person_key(profile.user)))
    assert expected.astimezone(zone).date() == date(2026, 3, 2)
    assert desk.when_next(profile, NOW) == "tomorrow around 09:15"


def test_the_weekly_reminder_carries_the_start_our_check_in_button(desk: NudgeDesk) -> None:
    reply = desk.render(claimed(ItemKind.WEEKLY, onboarded()), NOW).reply
    assert reply is not None
    assert [b.payload for b in reply.buttons] == [WEEKLY_BUTTON[1]]


# --------------------------------------------------------------------------- a promise's evening


@pytest.mark.parametrize(
    ("changes", "on_break", "goes"),
    [
        ({}, False, True),
        ({"safety_mode": True}, False, True),  # a promise to themselves: not a reconnect nudge
        ({}, True, True),  # nor does a break hold it
        ({"nudges_stopped": True}, False, False),
        ({"unreachable_since": NOW}, False, False),
    ],
)
def test_a_promise_evening_asks_unless_they_stopped_nudges(
    desk: NudgeDesk, changes: dict[str, Any], on_break: bool, goes: bool
) -> None:
    item = replace(
        claimed(ItemKind.EVENING, onboarded(**changes), payload={"promise": "2026-03-02"}),
        on_break=on_break,
    )
    rendered = desk.render(item, NOW)
    if not goes:
        assert rendered.reply is None and rendered.reason is not None
        return
    assert rendered.reply is not None and rendered.reply.key == PROMISE_EVENING
    assert [b.payload for b in rendered.reply.buttons] == [
        "pr:kept:2026-03-02",
        "pr:not:2026-03-02",
    ]


def test_a_garbled_promise_evening_is_not_sent(desk: NudgeDesk) -> None:
    item = claimed(ItemKind.EVENING, onboarded(), payload={"promise": "someday"})
    rendered = desk.render(item, NOW)
    assert rendered.reply is None and rendered.reason is SkipReason.UNKNOWN_TEXT


@pytest.mark.parametrize(("days_in", "offered"), [(0, False), (6, False), (7, True), (40, True)])
def test_from_week_two_the_morning_step_also_offers_todays_promise(
    desk: NudgeDesk, days_in: int, offered: bool
) -> None:
    profile = onboarded()  # set up on NOW's local day, 2026-03-01 in Berlin
    day = (NOW + timedelta(days=days_in)).date().isoformat()
    rendered = desk.render(claimed(ItemKind.MORNING, profile, day), NOW)
    assert rendered.reply is not None
    payloads = [b.payload for b in rendered.reply.buttons]
    assert [p.split(":")[1] for p in payloads[:3]] == ["done", "skip", "swap"]
    assert ("pr:ask" in payloads) is offered
