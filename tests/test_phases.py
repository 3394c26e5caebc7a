"""The four phases: their texts, ``/phase`` (showing, choosing, rebuilding the plan), the
suggestion to move on (pure rule, in ``/phase`` and after Done), and ``/today``."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import Connection, select

from core import keys
from core.content import Content
from core.flows.engine import FlowState
from core.program.phases import (
    Signals,
    programme_day,
    suggest_next_phase,
    week_of_programme,
)
from core.program.plan import Outcome, decode_plan
from core.schedule.kinds import ItemKind
from core.service import CoachService
from core.service.nudges import NudgeVerb, encode_press
from core.service.phase_desk import PhasePress, decode_phase_press
from core.service.safety import SafetyAction, encode_action
from core.storage import Database, UserRepository
from core.storage.action_log import ActionLogRepository, journal_scores
from core.storage.repositories import USER_ID, who
from core.storage.tables import journal_entries
from core.types import Reply, UserRef
from tests.fakes import FakeClock, group_chat, person, pressed, said
from tests.test_nudges import action_of, claimed, onboard, profile_of, state_of

DAY0 = date(2026, 3, 1)
T0 = DAY0.toordinal()


def keys_of(replies: list[Reply]) -> list[str]:
    return [r.key for r in replies]


def payloads(reply: Reply) -> list[str]:
    return [b.payload for b in reply.buttons]


# --------------------------------------------------------------------------- texts


BULLET = "• "


def bullets(text: str) -> list[str]:
    return [line[len(BULLET) :] for line in text.splitlines() if line.startswith(BULLET)]


@pytest.mark.parametrize("phase", [1, 2, 3, 4])
def test_every_phase_has_its_texts(content: Content, phase: int) -> None:
    texts = content.texts.by_key
    for section in keys.PHASE_SECTIONS:
        text = texts[f"phase.{phase}.{section}"]
        assert text.strip() and len(text) <= 2000
        assert "$" not in text
    assert 10 <= len(texts[f"phase.{phase}.name"]) <= 40
    assert 400 <= len(texts[f"phase.{phase}.intro"]) <= 900  # a phone screen
    practices = bullets(texts[f"phase.{phase}.practices"])
    assert 3 <= len(practices) <= 6
    pairs = bullets(texts[f"phase.{phase}.instead"])
    assert 4 <= len(pairs) <= 6
    assert all(p.startswith("Instead of ") and ", try " in p for p in pairs)
    signs = bullets(texts[f"phase.{phase}.move_on"])
    assert 3 <= len(signs) <= 5
    for section in ("practices", "instead", "move_on"):
        assert len(texts[f"phase.{phase}.{section}"]) <= 1100


def test_phase_texts_promise_nothing_and_blame_no_one(content: Content) -> None:
    forbidden = re.compile(
        r"\b(will (save|fix|heal)|guarantee|you are (avoidant|anxious|toxic|a narcissist))\b",
        re.IGNORECASE,
    )
    for key, text in content.texts.by_key.items():
        if key.startswith("phase."):
            assert not forbidden.search(text), key


# --------------------------------------------------------------------------- pure rules


def test_week_and_day_of_the_programme() -> None:
    assert programme_day(DAY0, DAY0) == 0 and week_of_programme(DAY0, DAY0) == 1
    assert week_of_programme(DAY0, DAY0 + timedelta(days=6)) == 1
    assert week_of_programme(DAY0, DAY0 + timedelta(days=7)) == 2
    assert week_of_programme(DAY0, DAY0 + timedelta(days=21)) == 4
    assert programme_day(DAY0, DAY0 - timedelta(days=3)) == 0


STEADY = Signals(phase=1, days_in_phase=30, programme_day=30, done_days=9)


@pytest.mark.parametrize(
    ("signals", "expected"),
    [
        (STEADY, 2),
        (replace(STEADY, done_days=8), None),  # 8 of 14 days is below 60%
        (replace(STEADY, phase=3), 4),
        (replace(STEADY, phase=4), None),  # nowhere further to go
        (replace(STEADY, programme_day=20, days_in_phase=20), None),  # the guided weeks
        (replace(STEADY, days_in_phase=9, done_days=9), None),  # too soon in the phase
        (replace(STEADY, days_in_phase=10, done_days=6), 2),  # 6 of 10 days
        (replace(STEADY, days_in_phase=10, done_days=5), None),
        (replace(STEADY, done_days=0, scores=(6, 7)), 2),  # two good weekly reflections
        (replace(STEADY, done_days=0, scores=(7, 5)), None),
        (replace(STEADY, done_days=0, scores=(9,)), None),
    ],
)
def test_moving_on_is_suggested_by_check_ins(signals: Signals, expected: int | None) -> None:
    assert suggest_next_phase(signals) == expected


def test_phase_payloads_read_back_and_reject_the_rest() -> None:
    assert decode_phase_press("ph:choose") == PhasePress("choose")
    assert decode_phase_press("ph:set:3") == PhasePress("set", 3)
    assert decode_phase_press("ph:move_on:4") == PhasePress("move_on", 4)
    for bad in GARBLED:
        assert decode_phase_press(bad) is None, bad


# --------------------------------------------------------------------------- /phase


async def test_phase_shows_where_they_are(
    service: CoachService, clock: FakeClock, content: Content
) -> None:
    sam = person()
    await onboard(service, sam)
    clock.advance(days=8)
    [reply] = await service.handle(said(sam, "/phase"))
    assert reply.key == keys.PHASE_WHERE
    assert content.texts.render("phase.1.name") in reply.text
    assert "week 2 " in reply.text
    assert content.texts.render("phase.1.intro") in reply.text
    assert payloads(reply) == ["ph:practices:1", "ph:instead:1", "ph:move_on:1", "ph:choose"]
    assert content.texts.render(keys.PHASE_SUGGEST) not in reply.text


async def test_phase_buttons_show_each_part_from_any_old_message(
    service: CoachService, sqlite_db: Database, content: Content
) -> None:
    sam = person()
    await onboard(service, sam)
    await service.handle(said(sam, "/settings"))
    for phase in (1, 4):
        for section in ("practices", "instead", "move_on"):
            [reply] = await service.handle(pressed(sam, f"ph:{section}:{phase}"))
            assert reply.key == f"phase.{phase}.{section}"
            assert reply.text == content.texts.render(reply.key)
            assert f"ph:{section}:{phase}" not in payloads(reply)
            assert "ph:choose" in payloads(reply)
    assert await state_of(sqlite_db, sam) == FlowState("settings", "menu")
    [in_group] = await service.handle(pressed(sam, "ph:practices:2", group_chat()))
    assert in_group.key == "phase.2.practices" and in_group.private_to == sam


async def test_choosing_a_phase_rebuilds_the_plan_from_tomorrow(
    service: CoachService, sqlite_db: Database, clock: FakeClock, content: Content
) -> None:
    sam = person()
    await onboard(service, sam)
    clock.advance(days=3)
    before = await profile_of(sqlite_db, sam)
    today = T0 + 3
    [menu] = await service.handle(pressed(sam, "ph:choose"))
    assert menu.key == keys.PHASE_CHOOSE
    assert payloads(menu) == ["ph:set:1", "ph:set:2", "ph:set:3", "ph:set:4"]
    assert menu.buttons[2].label == f"3. {content.texts.render('phase.3.name')}"
    [chosen] = await service.handle(pressed(sam, "ph:set:3"))
    assert chosen.key == keys.PHASE_CHOSEN
    assert content.texts.render("phase.3.intro") in chosen.text
    after = await profile_of(sqlite_db, sam)
    assert (after.phase, after.phase_since) == (3, clock.now())
    plan, old = decode_plan(after.plan), decode_plan(before.plan)
    assert plan.start == today and plan.basis == "300"
    assert plan.at(today) == old.at(today)  # this morning's step stays
    phases = [content.program.action(a).phase for a in plan.ids[1:]]  # type: ignore[union-attr]
    assert max(phases) == 3 and phases.count(3) * 3 >= len(phases) * 2 - 3
    assert plan.ids[1:] != old.ids[4:]
    # Choosing it again changes nothing; going back is welcome too.
    [same] = await service.handle(pressed(sam, "ph:set:3"))
    assert same.key == keys.PHASE_SAME
    assert await profile_of(sqlite_db, sam) == after
    [back] = await service.handle(pressed(sam, "ph:set:1"))
    assert back.key == keys.PHASE_BACK
    assert (await profile_of(sqlite_db, sam)).phase == 1
    [shown] = await service.handle(said(sam, "/phase"))
    assert content.texts.render("phase.1.name") in shown.text


async def test_phase_before_set_up_and_in_safety_mode(
    service: CoachService, sqlite_db: Database
) -> None:
    kim = person("2301")
    assert keys_of(await service.handle(said(kim, "/phase"))) == [keys.PHASE_NEEDS_START]
    assert keys_of(await service.handle(pressed(kim, "ph:set:2"))) == [keys.PHASE_NEEDS_START]
    assert keys_of(await service.handle(said(kim, "/today"))) == [keys.NUDGES_NOT_SET_UP]
    sam = person()
    await onboard(service, sam)
    await service.handle(pressed(sam, encode_action(SafetyAction.MODE_START)))
    [reply] = await service.handle(said(sam, "/phase"))
    assert reply.key == keys.PHASE_SAFETY and not reply.buttons
    assert keys_of(await service.handle(pressed(sam, "ph:set:2"))) == [keys.PHASE_SAFETY]
    assert (await profile_of(sqlite_db, sam)).phase == 1


async def test_phase_and_today_are_private_commands(service: CoachService) -> None:
    sam = person()
    await onboard(service, sam)
    for command in ("/phase", "/today"):
        replies = await service.handle(said(sam, command, group_chat()))
        assert keys_of(replies) == [keys.PRIVATE_ONLY]
    [help_text] = await service.handle(said(sam, "/help"))
    assert "/phase" in help_text.text and "/today" in help_text.text


GARBLED = [
    "ph",
    "ph:",
    "ph:set",
    "ph:set:",
    "ph:set:0",
    "ph:set:5",
    "ph:set:٢",
    "ph:set:2:3",
    "ph:practices",
    "ph:practices:x",
    "ph:choose:1",
    "ph:wave:1",
    "ph:SET:2",
]


@pytest.mark.parametrize("payload", GARBLED)
async def test_garbled_phase_buttons_get_a_kind_answer(
    service: CoachService, sqlite_db: Database, payload: str
) -> None:
    sam = person()
    await onboard(service, sam)
    before = await profile_of(sqlite_db, sam)
    assert keys_of(await service.handle(pressed(sam, payload))) == [keys.STALE_BUTTON]
    assert await profile_of(sqlite_db, sam) == before


# --------------------------------------------------------------------------- suggestions


async def log_done(database: Database, user: UserRef, days: list[date]) -> None:
    def write(connection: Connection) -> None:
        repository = ActionLogRepository(connection)
        for day in days:
            at = datetime.combine(day, datetime.min.time()).astimezone()
            repository.record(user, day, "no_defend", Outcome.DONE, at)

    await database.run(write)


async def log_weeks(
    database: Database, user: UserRef, scores: dict[str, int], at: datetime
) -> None:
    def write(connection: Connection) -> None:
        user_id = connection.execute(select(USER_ID), who(user)).scalar_one()
        for week, score in scores.items():
            connection.execute(
                journal_entries.insert(),
                {"user_id": user_id, "week": week, "score": score, "at": at},
            )

    await database.run(write)


async def test_phase_suggests_moving_on_when_check_ins_show_it(
    service: CoachService, sqlite_db: Database, clock: FakeClock, content: Content
) -> None:
    sam = person()
    await onboard(service, sam)
    clock.advance(days=25)
    today = DAY0 + timedelta(days=25)
    await log_done(sqlite_db, sam, [today - timedelta(days=n) for n in (0, 2, 4, 6, 8, 10, 12, 14)])
    [quiet] = await service.handle(said(sam, "/phase"))  # 7 of the last 14 days: not yet
    assert "ph:set:2" not in payloads(quiet)
    await log_done(sqlite_db, sam, [today - timedelta(days=n) for n in (1, 3)])
    [reply] = await service.handle(said(sam, "/phase"))
    suggestion = content.texts.render(
        keys.PHASE_SUGGEST,
        {"phase_number": "2", "phase_name": content.texts.render("phase.2.name")},
    )
    assert suggestion in reply.text
    assert payloads(reply)[-1] == "ph:set:2" and reply.buttons[-1].label == "Move to phase 2"
    [moved] = await service.handle(pressed(sam, "ph:set:2"))
    assert moved.key == keys.PHASE_CHOSEN
    [later] = await service.handle(said(sam, "/phase"))  # just arrived in phase 2
    assert "ph:set:3" not in payloads(later)


async def test_two_good_weekly_reflections_also_suggest_it(
    service: CoachService, sqlite_db: Database, clock: FakeClock
) -> None:
    sam = person()
    await onboard(service, sam)
    clock.advance(days=24)
    await log_weeks(sqlite_db, sam, {"2026-W11": 5, "2026-W12": 7}, clock.now())
    [reply] = await service.handle(said(sam, "/phase"))
    assert "ph:set:2" not in payloads(reply)
    await log_weeks(sqlite_db, sam, {"2026-W13": 6}, clock.now())
    [reply] = await service.handle(said(sam, "/phase"))
    assert "ph:set:2" in payloads(reply)


async def test_after_done_the_suggestion_comes_at_most_once_a_week(
    service: CoachService, sqlite_db: Database, clock: FakeClock
) -> None:
    sam = person()
    await onboard(service, sam)
    clock.advance(days=25)
    today = DAY0 + timedelta(days=25)
    await log_done(sqlite_db, sam, [today - timedelta(days=n) for n in range(1, 14)])
    done = encode_press(NudgeVerb.DONE, "no_blame")
    replies = await service.handle(pressed(sam, done))
    assert keys_of(replies) == [keys.NUDGE_DONE, keys.PHASE_SUGGEST_AFTER_DONE]
    assert payloads(replies[1]) == ["ph:set:2"]
    for _ in range(6):
        clock.advance(days=1)
        assert keys_of(await service.handle(pressed(sam, done))) == [keys.NUDGE_DONE]
    clock.advance(days=1)
    again = await service.handle(pressed(sam, done))
    assert keys_of(again) == [keys.NUDGE_DONE, keys.PHASE_SUGGEST_AFTER_DONE]
    # Never in safety mode.
    await service.handle(pressed(sam, encode_action(SafetyAction.MODE_START)))
    clock.advance(days=8)
    assert keys_of(await service.handle(pressed(sam, done))) == [keys.NUDGE_DONE]


# --------------------------------------------------------------------------- /today


async def test_today_shows_the_mornings_step_or_the_one_swapped_in(
    service: CoachService, sqlite_db: Database, clock: FakeClock, content: Content
) -> None:
    sam = person()
    await onboard(service, sam)
    clock.advance(days=2)
    profile = await profile_of(sqlite_db, sam)
    morning = service.nudges.render(claimed(ItemKind.MORNING, profile, "2026-03-03"), clock.now())
    assert morning.reply is not None
    step = action_of(morning.reply)
    [today] = await service.handle(said(sam, "/today"))
    assert today.key == keys.NUDGE_TODAY and action_of(today) == step
    assert content.texts.render(f"actions.{step}.do") in today.text
    [swapped] = await service.handle(pressed(sam, encode_press(NudgeVerb.SWAP, step)))
    [again] = await service.handle(said(sam, "/today"))
    assert action_of(again) == action_of(swapped) != step
    await service.handle(pressed(sam, encode_action(SafetyAction.MODE_START)))
    [safe] = await service.handle(said(sam, "/today"))
    assert safe.key == keys.NUDGE_TODAY_SAFETY
    found = content.program.action(action_of(safe))
    assert found is not None and found.self_focused


# --------------------------------------------------------------------------- the action log


async def test_the_action_log_on_every_database(database: Database) -> None:
    sam = person("2401")
    at = datetime(2026, 3, 20, 9, 0).astimezone()

    def write(connection: Connection) -> list[bool]:
        UserRepository(connection).create(sam, at)
        repository = ActionLogRepository(connection)
        return [
            repository.record(sam, DAY0, "no_defend", Outcome.DONE, at),
            repository.record(sam, DAY0, "no_defend", Outcome.DONE, at),  # a double tap
            repository.record(sam, DAY0, "no_defend", Outcome.SKIPPED, at),
            repository.record(sam, DAY0 + timedelta(days=3), "appreciate", Outcome.DONE, at),
            repository.record(sam, DAY0 + timedelta(days=9), "phase_2", Outcome.SUGGESTED, at),
        ]

    assert await database.run(write) == [True, False, True, True, True]
    await log_weeks(database, sam, {"2026-W10": 4, "2026-W12": 8, "2026-W11": 7}, at)

    def read(connection: Connection) -> tuple[object, ...]:
        repository = ActionLogRepository(connection)
        return (
            [(e.day - T0, e.action, e.outcome) for e in repository.since(sam, DAY0)],
            len(repository.since(sam, DAY0 + timedelta(days=1))),
            repository.last(sam, Outcome.SUGGESTED),
            repository.last(sam, Outcome.SWAPPED),
            repository.done_days(sam, DAY0),
            repository.done_days(sam, DAY0 + timedelta(days=1)),
            journal_scores(connection, sam, at - timedelta(days=1)),
            journal_scores(connection, sam, at + timedelta(days=1)),
        )

    assert await database.run(read) == (
        [
            (0, "no_defend", Outcome.DONE),
            (0, "no_defend", Outcome.SKIPPED),
            (3, "appreciate", Outcome.DONE),
            (9, "phase_2", Outcome.SUGGESTED),
        ],
        2,
        DAY0 + timedelta(days=9),
        None,
        2,
        1,
        (8, 7),
        (),
    )
