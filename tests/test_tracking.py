"""Small promises, good and hard moments, and the weekly reflection, end to end.

Pure rules first (follow-through, weeks, the 5:1 balance, specific praise, when the
evening question comes), then the real service with a fake clock and a SQLite file:
``/promise`` typed and picked with its evening question, ``/appreciate`` and ``/ouch``,
``/journal`` with its celebrations, set-up and safety mode, and privacy.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Connection, select, update

from core import keys
from core.content import Content
from core.program.names import HEALING_BUTTON
from core.program.tracking import (
    APPRECIATION,
    HURT,
    Balance,
    Celebration,
    WeekPoint,
    balance_of,
    evening_question_at,
    first_day_of,
    follow_through,
    is_specific,
    journal_celebration,
    missed_in_a_row,
    recent_weeks,
    suggestion_indices,
    week_key,
    week_of,
)
from core.schedule.kinds import ItemKind
from core.schedule.local_time import DEFAULT_QUIET, QuietHours
from core.service import CoachService
from core.service import tracking_desk as td
from core.storage import Database
from core.storage.deliveries import Claimed, claim
from core.storage.tables import deliveries, journal_entries, moments, program_notes, promises
from core.storage.tables import metadata as all_tables
from core.timezones import resolve_timezone
from core.types import Platform, Reply, UserRef
from tests.fakes import TEST_CIPHER, FakeClock, group_chat, person, pressed, said

BERLIN = resolve_timezone("Europe/Berlin")
NEW_YORK = resolve_timezone("America/New_York")


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def keys_of(replies: list[Reply]) -> list[str]:
    return [r.key for r in replies]


def payloads(reply: Reply) -> list[str]:
    return [b.payload for b in reply.buttons]


async def tap(service: CoachService, user: UserRef, last: list[Reply], choice: str) -> list[Reply]:
    buttons = next(r.buttons for r in reversed(last) if r.buttons)
    payload = next(b.payload for b in buttons if b.payload.endswith(f":{choice}"))
    return await service.handle(pressed(user, payload))


async def onboard(
    service: CoachService, user: UserRef, zone: str = "Berlin", situation: str = "struggling"
) -> None:
    replies = await service.handle(said(user, "/start"))
    replies = await tap(service, user, replies, "adult")
    replies = await tap(service, user, replies, "agree")
    replies = await service.handle(said(user, zone))
    replies = await tap(service, user, replies, "yes")
    replies = await service.handle(said(user, "9:15"))
    done = await tap(service, user, replies, situation)
    assert done[-1].key == "onboarding.done"


async def rows(database: Database, statement: Any) -> list[Any]:
    return await database.run(lambda c: list(c.execute(statement)))


async def set_safety_mode(database: Database, user: UserRef) -> None:
    from core.storage.tables import users

    def work(connection: Connection) -> None:
        connection.execute(
            update(users)
            .where(users.c.platform_user_id == user.user_id)
            .values(safety_mode=True, safety_since=utc("2026-03-01T09:00"))
        )

    await database.run(work)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(utc("2026-03-02T09:00"))  # a Monday: 10:00 in Berlin, 04:00 in New York


@pytest.fixture
def service(content: Content, database: Database, clock: FakeClock) -> CoachService:
    return CoachService(content, database, clock, cipher=TEST_CIPHER, default_timezone="UTC")


# --------------------------------------------------------------------------- pure rules


def test_follow_through_counts_kept_of_the_last_answers_and_a_slip_never_resets() -> None:
    five_kept = [True] * 5
    assert follow_through(five_kept) == td_follow(5, 5)
    slipped = [False, *five_kept]  # newest first: the slip is the latest answer
    assert follow_through(slipped) == td_follow(5, 6)
    recovered = [True, *slipped]
    assert follow_through(recovered) == td_follow(6, 7)
    long_run = [True] * 20 + [False] * 5
    assert follow_through(long_run) == td_follow(14, 14)  # only the last 14 count
    assert follow_through([]) == td_follow(0, 0)


def td_follow(kept: int, answered: int) -> Any:
    from core.program.tracking import FollowThrough

    return FollowThrough(kept, answered)


def test_misses_in_a_row_stop_at_the_newest_kept_promise() -> None:
    assert missed_in_a_row([False, False, True, False]) == 2
    assert missed_in_a_row([True, False]) == 0
    assert missed_in_a_row([False] * 3) == 3


def test_week_keys_are_iso_weeks_of_local_dates() -> None:
    assert week_key(date(2026, 3, 1)) == "2026-W09"  # a Sunday
    assert week_key(date(2026, 3, 2)) == "2026-W10"  # the Monday after
    assert week_key(date(2027, 1, 1)) == "2026-W53"  # ISO years differ from calendar years
    assert week_of("2026-03-02") == "2026-W10"
    assert week_of("2026-02-30") is None and week_of("yesterday") is None
    weeks = recent_weeks(date(2026, 3, 4), 3)
    assert weeks == ("2026-W08", "2026-W09", "2026-W10")
    assert first_day_of(date(2026, 3, 4), 3) == date(2026, 2, 16)


def test_balance_counts_one_local_week_only() -> None:
    logged = [
        (APPRECIATION, "2026-03-01"),  # Sunday: the week before
        (APPRECIATION, "2026-03-02"),
        (APPRECIATION, "2026-03-03"),
        (APPRECIATION, "2026-03-05"),
        (APPRECIATION, "2026-03-08"),  # Sunday: same week as the Monday
        (HURT, "2026-03-04"),
        (HURT, "2026-03-09"),  # next Monday: the next week
    ]
    this_week = balance_of(logged, "2026-W10")
    assert this_week == Balance(good=4, hard=1)
    assert this_week.ratio == "4" and not this_week.at_goal
    assert balance_of(logged, "2026-W09") == Balance(1, 0)
    assert Balance(7, 2).ratio == "3.5"
    assert Balance(10, 2).at_goal and Balance(3, 0).ratio == ""


@pytest.mark.parametrize(
    ("text", "specific"),
    [
        ("You're amazing", False),
        ("thanks for everything", False),
        ("great", False),
        ("nice", False),
        ("They're the best", False),
        ("you're the best partner ever", False),
        ("They were so nice today", False),
        ("I love them so much", False),
        ("He's always so kind and thoughtful", False),
        ("She is a good person, really", False),
        ("Amazing day, thank you!", False),
        ("Everything. They're wonderful, caring and supportive.", False),
        ("She made coffee this morning before I woke up", True),
        ("He listened without interrupting when I talked about my mum", True),
        ("They remembered my dentist appointment and texted me good luck", True),
        ("picked up the kids so I could rest", True),
        ("The way he laughed at my terrible joke at dinner", True),
        ("She fixed the leaking tap without being asked", True),
        ("thanks for washing the dishes last night", True),
        ("held my hand during the film", True),
        ("He asked how my interview went and waited for the whole answer", True),
        ("They were so patient with me when I was stressed about work", True),
        ("cooked dinner", True),
        ("Thank you for the hug at the station", True),
    ],
)
def test_specific_appreciation_is_told_apart_from_generic_praise(text: str, specific: bool) -> None:
    assert is_specific(text) is specific


@pytest.mark.parametrize(
    ("zone", "now", "expected"),
    [
        # 10:00 in Berlin (CET): 20:00 today is 19:00 UTC.
        (BERLIN, "2026-03-02T09:00", "2026-03-02T19:00"),
        # 04:00 in New York (EST): 20:00 today is 01:00 UTC tomorrow.
        (NEW_YORK, "2026-03-02T09:00", "2026-03-03T01:00"),
        # New York after the US clocks went forward (EDT), Berlin not yet.
        (NEW_YORK, "2026-03-09T14:00", "2026-03-10T00:00"),
        (BERLIN, "2026-03-09T14:00", "2026-03-09T19:00"),
        # 20:30 in Berlin: an hour from now, 21:30 (outside quiet hours).
        (BERLIN, "2026-03-02T19:30", "2026-03-02T20:30"),
        # 19:55 in Berlin: not five minutes later at 20:00, but an hour from now, 20:55.
        (BERLIN, "2026-03-02T18:55", "2026-03-02T19:55"),
        # 19:00 in Berlin exactly: 20:00 is a full hour away, so 20:00.
        (BERLIN, "2026-03-02T18:00", "2026-03-02T19:00"),
        # 21:30 in Berlin: an hour from now is 22:30, quiet; so tomorrow at 08:00.
        (BERLIN, "2026-03-02T20:30", "2026-03-03T07:00"),
        # 23:30 in New York: tomorrow morning at 08:00 EST.
        (NEW_YORK, "2026-03-03T04:30", "2026-03-03T13:00"),
    ],
)
def test_evening_question_time(zone: Any, now: str, expected: str) -> None:
    assert evening_question_at(zone, utc(now), DEFAULT_QUIET) == utc(expected)


def test_evening_question_respects_the_persons_own_quiet_hours() -> None:
    early_nights = QuietHours(datetime(2026, 1, 1, 19).time(), datetime(2026, 1, 1, 7).time())
    # 20:00 falls in quiet hours from 19:00: it waits until 07:00 the next day.
    at = evening_question_at(BERLIN, utc("2026-03-02T09:00"), early_nights)
    assert at == utc("2026-03-03T06:00")


def test_suggestions_are_fixed_per_person_and_day_and_vary_between_them() -> None:
    day = date(2026, 3, 2)
    first = suggestion_indices("telegram:1", day, 24)
    assert first == suggestion_indices("telegram:1", day, 24)
    assert len(set(first)) == 3 and all(0 <= i < 24 for i in first)
    others = {suggestion_indices("telegram:1", day + timedelta(days=n), 24) for n in range(10)}
    assert len(others) > 5
    assert suggestion_indices("telegram:1", day, 2) in ((0, 1), (1, 0))


def test_journal_celebrations_pick_one_line() -> None:
    this, last = WeekPoint("2026-W10"), WeekPoint("2026-W09")
    assert journal_celebration(6, None, this, last) is Celebration.FIRST_ENTRY
    assert journal_celebration(7, 6, this, last) is Celebration.SCORE_UP
    assert journal_celebration(3, None, this, last) is Celebration.LOW
    assert journal_celebration(5, 8, this, last) is Celebration.DIP
    assert Celebration.LOW.offers_healing and Celebration.DIP.offers_healing
    assert not Celebration.SCORE_UP.offers_healing
    better = replace(this, promises_kept=3, promises_answered=3)
    worse = replace(last, promises_kept=1, promises_answered=3)
    assert journal_celebration(6, 6, better, worse) is Celebration.PROMISES_UP
    assert journal_celebration(6, 6, replace(this, good=4), replace(last, good=2)) is (
        Celebration.APPRECIATIONS_UP
    )
    assert journal_celebration(6, 6, replace(this, steps_done=5), last) is Celebration.STEPS_UP
    assert journal_celebration(6, 6, this, last) is Celebration.STEADY


# --------------------------------------------------------------------------- /promise


async def test_typed_promise_is_kept_encrypted_and_asked_about_at_20_in_berlin(
    service: CoachService, database: Database
) -> None:
    sam = person("3001")
    await onboard(service, sam, "Berlin")
    replies = await service.handle(said(sam, "/promise text Alex when I leave work"))
    assert keys_of(replies) == [td.PROMISE_MADE]
    assert "text Alex when I leave work" in replies[0].text and "20:00" in replies[0].text
    stored = await rows(database, select(promises.c.local_date, promises.c.text, promises.c.kept))
    assert [(r.local_date, r.kept) for r in stored] == [("2026-03-02", None)]
    assert "Alex" not in stored[0].text
    assert TEST_CIPHER.open(stored[0].text) == "text Alex when I leave work"
    timers = await rows(
        database, select(deliveries.c.item, deliveries.c.due_at, deliveries.c.payload)
    )
    assert len(timers) == 1
    assert timers[0].item == "timer:promise:telegram:3001:2026-03-02"
    assert timers[0].due_at.replace(tzinfo=UTC) == utc("2026-03-02T19:00")
    assert timers[0].payload == '{"promise": "2026-03-02"}'  # a date, never their words


async def test_typed_promise_in_new_york_is_asked_about_at_their_20(
    service: CoachService, database: Database
) -> None:
    jo = person("3002", "Jo")
    await onboard(service, jo, "New York")
    replies = await service.handle(said(jo, "/promise call my sister"))
    assert keys_of(replies) == [td.PROMISE_MADE] and "20:00" in replies[0].text
    stored = await rows(database, select(promises.c.local_date))
    assert [r.local_date for r in stored] == ["2026-03-02"]  # 04:00 on Monday in New York
    [timer] = await rows(database, select(deliveries.c.due_at))
    assert timer.due_at.replace(tzinfo=UTC) == utc("2026-03-03T01:00")


async def test_a_late_promise_is_asked_about_next_morning(
    service: CoachService, database: Database, clock: FakeClock
) -> None:
    sam = person("3003")
    await onboard(service, sam)
    clock.current = utc("2026-03-02T21:00")  # 22:00 in Berlin
    replies = await service.handle(said(sam, "/promise lights off by midnight"))
    assert keys_of(replies) == [td.PROMISE_MADE_MORNING] and "08:00" in replies[0].text
    [timer] = await rows(database, select(deliveries.c.due_at))
    assert timer.due_at.replace(tzinfo=UTC) == utc("2026-03-03T07:00")


async def test_with_reminders_off_no_question_is_promised_or_queued(
    service: CoachService, database: Database
) -> None:
    sam = person("3012")
    await onboard(service, sam)
    await service.handle(said(sam, "/stop"))
    replies = await service.handle(said(sam, "/promise a short walk"))
    assert keys_of(replies) == [td.PROMISE_MADE_NO_ASK]
    assert await rows(database, select(deliveries.c.id)) == []
    shown = await service.handle(said(sam, "/promise"))
    assert payloads(shown[0]) == ["pr:kept:2026-03-02", "pr:not:2026-03-02"]


async def test_a_second_promise_the_same_day_replaces_the_first_and_says_so(
    service: CoachService, database: Database
) -> None:
    sam = person("3004")
    await onboard(service, sam)
    await service.handle(said(sam, "/promise walk the dog"))
    again = await service.handle(said(sam, "/promise walk the dog"))
    assert keys_of(again) == [td.PROMISE_MADE]  # the same words: nothing replaced
    other = await service.handle(said(sam, "/promise cook dinner"))
    assert keys_of(other) == [td.PROMISE_REPLACED, td.PROMISE_MADE]
    stored = await rows(database, select(promises.c.text))
    assert [TEST_CIPHER.open(r.text) for r in stored] == ["cook dinner"]
    assert len(await rows(database, select(deliveries.c.id))) == 1


async def test_picked_promise_from_three_stable_ideas(
    service: CoachService, database: Database, content: Content
) -> None:
    sam = person("3005")
    await onboard(service, sam)
    asked = await service.handle(said(sam, "/promise"))
    assert keys_of(asked) == [td.PROMISE_ASK]
    picks = payloads(asked[0])
    assert len(picks) == 3 and all(p.startswith("pr:pick:c") for p in picks)
    assert await service.handle(said(sam, "/promise")) == asked  # same three all day
    idea = picks[1].rsplit(":", 1)[1]
    idea_text = content.texts.render(f"tracking.promise.ideas.couple.{idea}")
    assert f"2. {idea_text}" in asked[0].text
    made = await service.handle(pressed(sam, picks[1]))
    assert keys_of(made) == [td.PROMISE_MADE] and idea_text in made[0].text
    stored = await rows(database, select(promises.c.text))
    assert [TEST_CIPHER.open(r.text) for r in stored] == [idea_text]
    # The question was left: a typed line now is not taken as a promise.
    after = await service.handle(said(sam, "hello"))
    assert td.PROMISE_MADE not in keys_of(after)


async def test_promise_typed_as_the_answer_to_the_question(
    service: CoachService, database: Database
) -> None:
    sam = person("3006")
    await onboard(service, sam)
    await service.handle(said(sam, "/promise"))
    replies = await service.handle(said(sam, "no phone at dinner"))
    assert keys_of(replies) == ["tracking.promise.noted", td.PROMISE_MADE]
    stored = await rows(database, select(promises.c.text))
    assert [TEST_CIPHER.open(r.text) for r in stored] == ["no phone at dinner"]
    current = await service.handle(said(sam, "/promise"))
    assert keys_of(current) == [td.PROMISE_CURRENT, td.PROMISE_ASK]
    assert payloads(current[0]) == ["pr:kept:2026-03-02", "pr:not:2026-03-02"]


async def test_evening_item_is_rendered_with_kept_and_not_today_buttons(
    service: CoachService, database: Database, clock: FakeClock, content: Content
) -> None:
    sam = person("3007")
    await onboard(service, sam)
    await service.handle(said(sam, "/promise ask about their day"))
    clock.current = utc("2026-03-02T19:00")
    [item] = await database.run(lambda c: claim(c, Platform.TELEGRAM, clock.current, 10))
    reply = td.render_promise_evening(item, content.texts, "UTC")
    assert reply is not None and reply.key == td.PROMISE_EVENING
    assert "ask about their day" not in reply.text  # the payload holds a date only
    assert payloads(reply) == ["pr:kept:2026-03-02", "pr:not:2026-03-02"]
    late = td.render_promise_evening(
        replace(item, due_at=utc("2026-03-03T07:00")), content.texts, "UTC"
    )
    assert late is not None and late.key == td.PROMISE_EVENING_LATE
    for other in (
        replace(item, kind=ItemKind.MORNING),
        replace(item, payload={}),
        replace(item, payload={"promise": "2026-02-31"}),
        replace(item, payload={"say": "tracking.promise.kept"}),
    ):
        assert td.render_promise_evening(other, content.texts, "UTC") is None


def test_evening_item_for_someone_unknown_still_renders(content: Content) -> None:
    item = Claimed(
        id=1,
        item="timer:promise:x",
        local_date="2026-03-02",
        kind=ItemKind.EVENING,
        platform=Platform.TELEGRAM,
        chat=None,
        profile=None,
        payload={"promise": "2026-03-02"},
    )
    reply = td.render_promise_evening(item, content.texts, "UTC")
    assert reply is not None and len(reply.buttons) == 2


async def test_kept_and_not_today_are_recorded_as_kept_n_of_the_last_m(
    service: CoachService, database: Database, clock: FakeClock
) -> None:
    sam = person("3008")
    await onboard(service, sam)
    answers = [True, True, True, True, True, False, True]
    said_back: list[list[Reply]] = []
    for n, kept in enumerate(answers):
        await service.handle(said(sam, f"/promise small thing {n}"))
        day = (date(2026, 3, 2) + timedelta(days=n)).isoformat()
        clock.advance(hours=10)  # 20:00 in Berlin
        verb = "kept" if kept else "not"
        said_back.append(await service.handle(pressed(sam, f"pr:{verb}:{day}")))
        clock.advance(hours=14)
    first = said_back[0]
    assert keys_of(first) == [td.PROMISE_KEPT, td.PROMISE_FOLLOW, "tracking.celebrate.first_kept"]
    assert "1 out of 1" in first[1].text
    slip = said_back[5]
    assert keys_of(slip) == [td.PROMISE_NOT_KEPT, td.PROMISE_FOLLOW]
    assert "5 out of 6" in slip[1].text  # the slip lowers the share, nothing resets
    after = said_back[6]
    assert keys_of(after) == [td.PROMISE_KEPT, td.PROMISE_FOLLOW]
    assert "6 out of 7" in after[1].text
    stored = await rows(
        database,
        select(promises.c.kept, promises.c.answered_at).order_by(promises.c.local_date),
    )
    assert [r.kept for r in stored] == answers
    assert all(r.answered_at is not None for r in stored)
    # Answered before it was asked: the evening question is dropped.
    assert (
        await rows(database, select(deliveries.c.id).where(deliveries.c.status == "queued")) == []
    )


async def test_several_misses_in_a_row_bring_the_healing_offer(
    service: CoachService, clock: FakeClock
) -> None:
    sam = person("3009")
    await onboard(service, sam)
    last: list[Reply] = []
    for n in range(3):
        await service.handle(said(sam, f"/promise try again {n}"))
        day = (date(2026, 3, 2) + timedelta(days=n)).isoformat()
        last = await service.handle(pressed(sam, f"pr:not:{day}"))
        if n < 2:
            assert td.PROMISE_SEVERAL_MISSED not in keys_of(last)
        clock.advance(days=1)
    assert keys_of(last) == [td.PROMISE_NOT_KEPT, td.PROMISE_FOLLOW, td.PROMISE_SEVERAL_MISSED]
    assert "0 out of 3" in last[1].text
    assert payloads(last[2]) == [HEALING_BUTTON[1]]


@pytest.mark.parametrize(
    "payload",
    [
        "pr:",
        "pr:kept",
        "pr:kept:",
        "pr:kept:2026-13-45",
        "pr:kept:tomorrow",
        "pr:not:2026-03-02:extra",
        "pr:pick:zz99",
        "pr:pick:",
        "pr:bogus:2026-03-02",
        "pr:kept:2026-03-02\u202e",
    ],
)
async def test_garbled_promise_buttons_get_a_kind_answer(
    service: CoachService, payload: str
) -> None:
    sam = person("3010")
    await onboard(service, sam)
    replies = await service.handle(pressed(sam, payload))
    assert keys_of(replies) == [td.PROMISE_GARBLED]


async def test_a_button_for_a_promise_that_does_not_exist(service: CoachService) -> None:
    sam = person("3011")
    await onboard(service, sam)
    replies = await service.handle(pressed(sam, "pr:kept:2026-01-05"))
    assert keys_of(replies) == [td.PROMISE_GONE]


# --------------------------------------------------------------------------- moments


async def test_appreciation_is_logged_encrypted_and_generic_praise_is_nudged(
    service: CoachService, database: Database
) -> None:
    sam = person("3020")
    await onboard(service, sam)
    specific = await service.handle(
        said(sam, "/appreciate she made coffee before I woke up this morning")
    )
    assert keys_of(specific) == [
        td.APPRECIATE_SPECIFIC,
        td.BALANCE_NO_HARD,
        "tracking.celebrate.first_appreciation",
    ]
    generic = await service.handle(said(sam, "/appreciate you're amazing"))
    assert keys_of(generic) == [td.APPRECIATE_GENERIC, td.BALANCE_NO_HARD]
    assert "the way you" in generic[0].text.casefold()
    assert "good moments noticed, 2" in generic[1].text
    stored = await rows(database, select(moments.c.kind, moments.c.local_date, moments.c.text))
    assert [(r.kind, r.local_date) for r in stored] == [(APPRECIATION, "2026-03-02")] * 2
    assert all("coffee" not in r.text and "amazing" not in r.text for r in stored)
    assert TEST_CIPHER.open(stored[1].text) == "you're amazing"


async def test_appreciation_typed_as_the_answer(service: CoachService, database: Database) -> None:
    sam = person("3021")
    await onboard(service, sam)
    asked = await service.handle(said(sam, "/appreciate"))
    assert keys_of(asked) == ["tracking.appreciate.ask"]
    replies = await service.handle(said(sam, "he fixed my bike"))
    assert keys_of(replies)[:3] == [
        "tracking.appreciate.noted",
        td.APPRECIATE_SPECIFIC,
        td.BALANCE_NO_HARD,
    ]
    assert len(await rows(database, select(moments.c.id))) == 1


async def test_ouch_logs_without_blame_and_shows_the_balance(
    service: CoachService, database: Database
) -> None:
    sam = person("3022")
    await onboard(service, sam)
    for text in (
        "kind note at breakfast",
        "hug at the door",
        "tea brought to me",
        "joke at dinner",
    ):
        await service.handle(said(sam, f"/appreciate {text}"))
    hurt = await service.handle(said(sam, "/ouch the door slammed during the talk"))
    assert keys_of(hurt) == [td.OUCH_LOGGED, td.BALANCE_RATIO]
    assert "4 : 1" in hurt[1].text and "5" in hurt[1].text
    asked = await service.handle(said(sam, "/ouch"))
    assert keys_of(asked) == ["tracking.ouch.ask"]
    [wordless] = payloads(asked[0])
    assert wordless.startswith("m:hurt:")
    logged = await service.handle(pressed(sam, wordless))
    assert keys_of(logged) == [td.OUCH_LOGGED, td.BALANCE_RATIO]
    assert "4 : 2" in logged[1].text and "about 2 to 1" in logged[1].text
    twice = await service.handle(pressed(sam, wordless))
    assert keys_of(twice) == [td.OUCH_ALREADY]
    stored = await rows(database, select(moments.c.kind, moments.c.text).order_by(moments.c.id))
    assert [r.kind for r in stored] == [APPRECIATION] * 4 + [HURT, HURT]
    assert stored[-1].text is None
    assert TEST_CIPHER.open(stored[-2].text) == "the door slammed during the talk"
    for payload in ("m:hurt:", "m:hurt:99999999999999999", "m:nope:1", "m:"):
        assert keys_of(await service.handle(pressed(sam, payload))) == [td.OUCH_GARBLED]


async def test_balance_follows_the_persons_local_iso_week(
    service: CoachService, database: Database, clock: FakeClock
) -> None:
    jo = person("3023", "Jo")
    await onboard(service, jo, "New York")
    clock.current = utc("2026-03-09T03:00")  # Monday in UTC, still Sunday 23:00 in New York
    await service.handle(said(jo, "/appreciate dinner waiting on the table"))
    clock.current = utc("2026-03-09T05:00")  # Monday 01:00 in New York: a new week
    fresh = await service.handle(said(jo, "/ouch raised voices over the bills"))
    assert keys_of(fresh) == [td.OUCH_LOGGED, td.BALANCE_NO_GOOD]  # not "0 to 1"
    assert "hard moments logged, 1" in fresh[1].text
    stored = await rows(database, select(moments.c.local_date).order_by(moments.c.id))
    assert [r.local_date for r in stored] == ["2026-03-08", "2026-03-09"]


# --------------------------------------------------------------------------- /journal


async def reflect(
    service: CoachService, user: UserRef, score: int, win: str, challenge: str, step: str
) -> list[Reply]:
    asked = await service.handle(said(user, "/journal"))
    assert payloads(asked[0]) == [f"j:score:{n}" for n in range(1, 11)]
    await service.handle(pressed(user, f"j:score:{score}"))
    await service.handle(said(user, win))
    await service.handle(said(user, challenge))
    return await service.handle(said(user, step))


async def test_journal_stores_one_entry_per_week_and_replaces_on_redo(
    service: CoachService, database: Database, clock: FakeClock
) -> None:
    sam = person("3030")
    await onboard(service, sam)
    asked = await service.handle(said(sam, "/journal"))
    assert keys_of(asked) == [td.JOURNAL_ASK_SCORE] and len(asked[0].buttons) == 10
    win = await service.handle(pressed(sam, "j:score:6"))
    assert keys_of(win) == ["tracking.journal.ask_win"]
    await service.handle(said(sam, "we walked by the river on Sunday"))
    await service.handle(said(sam, "skip"))
    done = await service.handle(said(sam, "ask before planning the weekend"))
    assert keys_of(done) == [
        "tracking.journal.done",
        td.JOURNAL_SAVED,
        "tracking.celebrate.first_entry",
    ]
    assert "2026-W10" in done[1].text and "6" in done[1].text
    assert payloads(done[1]) == [td.PROGRESS_PAYLOAD]
    [entry] = await rows(database, select(journal_entries))
    assert (entry.week, entry.score, entry.challenge) == ("2026-W10", 6, None)
    assert "river" not in entry.win and TEST_CIPHER.open(entry.win).endswith("on Sunday")
    assert TEST_CIPHER.open(entry.next_step) == "ask before planning the weekend"
    assert await rows(database, select(program_notes.c.id)) == []  # scratch answers gone
    clock.advance(days=2)
    redo = await reflect(service, sam, 7, "laughed together", "a tense call", "an early night")
    assert keys_of(redo)[:2] == ["tracking.journal.done", td.JOURNAL_UPDATED]
    entries = await rows(database, select(journal_entries.c.week, journal_entries.c.score))
    assert [(e.week, e.score) for e in entries] == [("2026-W10", 7)]


async def test_journal_celebrates_a_better_week_and_is_gentle_with_a_low_one(
    service: CoachService, database: Database, clock: FakeClock
) -> None:
    sam = person("3031")
    await onboard(service, sam)
    await reflect(service, sam, 5, "a calm dinner", "a sharp word", "slow down")
    clock.advance(weeks=1)
    better = await reflect(service, sam, 7, "a long talk", "tired", "a walk together")
    assert keys_of(better)[-1] == "tracking.celebrate.score_up"
    assert "5" in better[-1].text and better[-1].buttons == ()
    clock.advance(weeks=1)
    low = await reflect(service, sam, 3, "skip", "we barely spoke", "ask for help")
    assert keys_of(low)[-1] == "tracking.celebrate.low"
    assert payloads(low[-1]) == [HEALING_BUTTON[1]]
    clock.advance(weeks=1)
    recovered = await reflect(service, sam, 6, "a film night", "old argument", "pause earlier")
    assert keys_of(recovered)[-1] == "tracking.celebrate.score_up"
    clock.advance(weeks=1)
    steady = await reflect(service, sam, 6, "breakfast", "money", "talk on Sunday")
    assert keys_of(steady)[-1] == "tracking.celebrate.steady" and steady[-1].buttons == ()
    clock.advance(weeks=1)
    dipped = await reflect(service, sam, 5, "a quiet walk", "a missed call", "call back")
    assert keys_of(dipped)[-1] == "tracking.celebrate.dip"
    assert payloads(dipped[-1]) == [HEALING_BUTTON[1]]
    entries = await rows(database, select(journal_entries.c.week).order_by(journal_entries.c.week))
    assert [e.week for e in entries] == [f"2026-W{n}" for n in range(10, 16)]


async def test_garbled_journal_buttons_and_a_lost_score(
    service: CoachService, database: Database
) -> None:
    sam = person("3032")
    await onboard(service, sam)
    for payload in ("j:score:0", "j:score:11", "j:score:", "j:score:7x", "j:", "j:nope:3"):
        assert keys_of(await service.handle(pressed(sam, payload))) == [td.JOURNAL_GARBLED]
    await service.handle(said(sam, "/journal"))
    await service.handle(pressed(sam, "j:score:8"))
    await database.run(lambda c: c.execute(program_notes.delete()))
    await service.handle(said(sam, "a"))
    await service.handle(said(sam, "b"))
    lost = await service.handle(said(sam, "c"))
    assert keys_of(lost) == ["tracking.journal.done", td.JOURNAL_LOST]
    assert await rows(database, select(journal_entries.c.id)) == []


# --------------------------------------------------------------------------- set-up, safety


@pytest.mark.parametrize("line", ["/promise", "/promise call", "/appreciate", "/ouch", "/journal"])
async def test_people_not_set_up_are_asked_to_start(service: CoachService, line: str) -> None:
    new = person("3040")
    replies = await service.handle(said(new, line))
    assert keys_of(replies) == [td.NEEDS_START]


async def test_progress_and_buttons_need_set_up_too(service: CoachService) -> None:
    new = person("3041")
    for event in (
        said(new, "/progress"),
        pressed(new, "j:score:5"),
        pressed(new, "pr:kept:2026-03-02"),
        pressed(new, "m:hurt:1"),
        pressed(new, "pg:show"),
    ):
        assert keys_of(await service.handle(event)) == [td.NEEDS_START]


async def test_safety_mode_keeps_it_about_themselves(
    service: CoachService, database: Database
) -> None:
    sam = person("3042")
    await onboard(service, sam)
    await set_safety_mode(database, sam)
    asked = await service.handle(said(sam, "/promise"))
    assert keys_of(asked) == [td.PROMISE_ASK_SELF]
    assert all(p.startswith("pr:pick:s") for p in payloads(asked[0]))
    refused = await service.handle(pressed(sam, "pr:pick:c01"))  # an old couple idea
    assert keys_of(refused) == [td.PROMISE_ASK_SELF]
    appreciate = await service.handle(said(sam, "/appreciate"))
    assert keys_of(appreciate) == [td.APPRECIATE_ASK_SELF]
    assert "partner" not in appreciate[0].text
    logged = await service.handle(said(sam, "a friend walked me home after the meeting"))
    assert td.APPRECIATE_SPECIFIC_SELF in keys_of(logged) and td.BALANCE_SELF in keys_of(logged)
    hurt = await service.handle(said(sam, "/ouch shouting again"))
    assert keys_of(hurt) == [td.OUCH_LOGGED_SELF, td.BALANCE_SELF]
    journal = await service.handle(said(sam, "/journal"))
    assert keys_of(journal) == [td.JOURNAL_ASK_SCORE_SELF]


async def test_apart_people_get_self_care_ideas(service: CoachService) -> None:
    sam = person("3043")
    await onboard(service, sam, situation="separated")
    asked = await service.handle(said(sam, "/promise"))
    assert keys_of(asked) == [td.PROMISE_ASK_SELF]


# --------------------------------------------------------------------------- privacy


CANARIES = {
    "promise": "CANARY-PROMISE-7f3a",
    "appreciate": "CANARY-APPRECIATE-91be",
    "ouch": "CANARY-OUCH-c40d",
    "win": "CANARY-WIN-55e1",
    "challenge": "CANARY-CHALLENGE-0b9c",
    "next": "CANARY-NEXT-d2f7",
}


async def test_canaries_stay_private_and_are_never_stored_in_plain_text(
    service: CoachService, database: Database, clock: FakeClock
) -> None:
    sam, alex = person("3050", "Sam"), person("3051", "Alex")
    await onboard(service, sam)
    await onboard(service, alex)
    paired = await service.handle(said(sam, "/pair"))
    code = next(w for r in paired for w in r.text.split() if len(w) == 8 and w.isalnum())
    await service.handle(said(alex, f"/pair {code}"))
    heard: list[Reply] = []
    heard += await service.handle(said(sam, f"/promise {CANARIES['promise']} done"))
    heard += await service.handle(said(sam, f"/appreciate {CANARIES['appreciate']} at dinner"))
    heard += await service.handle(said(sam, f"/ouch {CANARIES['ouch']} at the door"))
    heard += await service.handle(said(sam, "/journal"))
    heard += await service.handle(pressed(sam, "j:score:4"))
    heard += await service.handle(said(sam, CANARIES["win"]))
    heard += await service.handle(said(sam, CANARIES["challenge"]))
    heard += await service.handle(said(sam, CANARIES["next"]))
    heard += await service.handle(said(sam, "/progress"))
    heard += await service.handle(pressed(sam, "pr:kept:2026-03-02"))
    group = group_chat("-900")
    for payload in ("j:score:5", "pr:pick:c01", "pr:kept:2026-03-02", "m:ouch", "pg:show"):
        # Shown only privately: pressed in a group, nothing starts or is recorded there.
        refused = await service.handle(pressed(sam, payload, group))
        assert keys_of(refused) == [keys.PRIVATE_ONLY], payload
        assert refused[0].private_to == sam
    for reply in heard:
        assert reply.chat is None and reply.private_to is None  # Sam's own private chat
    # Nothing reached Alex or a group, not even queued for later.
    queued = await rows(database, select(deliveries.c.payload, deliveries.c.user_id))
    assert all("CANARY" not in (q.payload or "") for q in queued)
    everything = await database.run(lambda c: _all_text(c))
    for canary in CANARIES.values():
        assert canary not in everything
    assert any(CANARIES["promise"] in r.text for r in heard)  # Sam sees their own words


def _all_text(connection: Connection) -> str:
    parts: list[str] = []
    for table in all_tables.sorted_tables:
        for row in connection.execute(select(table)):
            parts.extend(str(value) for value in row)
    return "\n".join(parts)


async def test_the_mornings_promise_button_asks_for_todays_promise(service: CoachService) -> None:
    sam = person("3090")
    await onboard(service, sam)
    asked = await service.handle(pressed(sam, "pr:ask"))
    assert keys_of(asked) == [td.PROMISE_ASK]
    assert all(b.payload.startswith("pr:pick:") for b in asked[0].buttons)
    assert len(asked[0].buttons) == 3
