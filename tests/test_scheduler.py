"""The scheduler end to end with a fake clock: tick, queue, send, record — on SQLite and
PostgreSQL. No test sleeps; time moves only when a test moves it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, time, timedelta

import pytest
from sqlalchemy import Connection, func, select, update
from sqlalchemy.exc import OperationalError

from core.outbox import DeliveryRefused, DeliveryUnknown, PlatformUnavailable, RateLimited
from core.schedule.kinds import ItemKind
from core.schedule.local_time import spread_offset
from core.storage import Database, UserRepository
from core.storage.breaks import BreakRepository
from core.storage.couples import CoupleRepository
from core.storage.deliveries import (
    Claimed,
    Outcome,
    Result,
    TimerRepository,
    claim,
    mark_sending,
    recover_stale,
    settle,
)
from core.storage.subscriptions import (
    QueuedDue,
    SubscriptionRepository,
    person_key,
    queue_due,
)
from core.storage.tables import deliveries, subscriptions, users
from core.types import ChatRef, Platform, Reply
from scheduler.clockwork import Scheduler
from scheduler.pacing import UNLIMITED, PlatformLimits, SendGate
from scheduler.sender import MARK_RETRY_SECONDS, OUTAGE_SECONDS, Sender
from tests.fakes import FakeClock
from tests.scheduler_fakes import (
    PlainRenderer,
    Rendered,
    ScriptedOutbox,
    Sent,
    due_of,
    enrol,
    onboarded,
    set_timer,
)

NO_QUIET = {"quiet_start": time(0, 0), "quiet_end": time(0, 0)}
PACED = PlatformLimits(overall_per_s=None, bulk_per_s=1000)
"""Paced (each send marked just before it goes), yet fast enough for a test."""


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def rig(
    database: Database, clock: FakeClock, outbox: ScriptedOutbox, gate: SendGate | None = None
) -> tuple[Scheduler, Sender]:
    scheduler = Scheduler(database, PlainRenderer(), clock, retention_days=180)
    sender = scheduler.attach(Platform.TELEGRAM, outbox, gate or SendGate(UNLIMITED))
    return scheduler, sender


async def step(scheduler: Scheduler, sender: Sender) -> int:
    """One tick and everything it made sendable."""
    await scheduler.tick()
    total = 0
    while claimed := await sender.drain_once():
        total += claimed
    return total


def statuses(connection: Connection) -> list[tuple[str, str, str]]:
    rows = connection.execute(
        select(deliveries.c.item, deliveries.c.status, deliveries.c.local_date).order_by(
            deliveries.c.id
        )
    )
    return [(r.item, r.status, r.local_date) for r in rows]


# Expected instants worked out by hand from the zones' rules, before the spread offset.
DST_CASES = [
    # Berlin springs forward 02:00 -> 03:00 on 29 March: 02:30 does not exist -> 03:00 CEST.
    ("Europe/Berlin", time(2, 30), "2026-03-28T12:00", "2026-03-29T01:00", "2026-03-30T00:30"),
    # Berlin falls back 03:00 -> 02:00 on 25 October: 02:30 happens twice, fires at the first.
    ("Europe/Berlin", time(2, 30), "2026-10-24T12:00", "2026-10-25T00:30", "2026-10-26T01:30"),
    ("America/New_York", time(2, 30), "2026-03-07T12:00", "2026-03-08T07:00", "2026-03-09T06:30"),
    ("America/New_York", time(1, 30), "2026-10-31T12:00", "2026-11-01T05:30", "2026-11-02T06:30"),
    # Sydney falls back on 5 April (03:00 AEDT -> 02:00 AEST), springs forward 4 October.
    ("Australia/Sydney", time(2, 30), "2026-04-04T00:00", "2026-04-04T15:30", "2026-04-05T16:30"),
    ("Australia/Sydney", time(2, 30), "2026-10-03T00:00", "2026-10-03T16:00", "2026-10-04T15:30"),
    # Kolkata has no DST and a half-hour offset.
    ("Asia/Kolkata", time(7, 30), "2026-03-28T12:00", "2026-03-29T02:00", "2026-03-30T02:00"),
    # Chatham: +13:45 in summer, +12:45 in winter, changing at 02:45/03:45 local.
    ("Pacific/Chatham", time(3, 0), "2026-04-04T00:00", "2026-04-04T13:15", "2026-04-05T14:15"),
    ("Pacific/Chatham", time(3, 0), "2026-09-26T00:00", "2026-09-26T14:00", "2026-09-27T13:15"),
]


@pytest.mark.parametrize(("zone", "at", "start", "first", "second"), DST_CASES)
async def test_nudges_go_out_at_the_right_instant_across_dst(
    database: Database, zone: str, at: time, start: str, first: str, second: str
) -> None:
    clock = FakeClock(utc(start))
    outbox = ScriptedOutbox()
    scheduler, sender = rig(database, clock, outbox)
    profile = onboarded("7001", zone, at, **NO_QUIET)
    offset = spread_offset(person_key(profile.user))
    await enrol(database, profile, clock.now())
    assert await due_of(database, profile.user) == utc(first) + offset

    clock.current = utc(first) + offset - timedelta(seconds=1)
    assert await step(scheduler, sender) == 0
    clock.current = utc(first) + offset
    assert await step(scheduler, sender) == 1
    assert await due_of(database, profile.user) == utc(second) + offset
    clock.current = utc(second) + offset
    assert await step(scheduler, sender) == 1
    assert len(outbox.sent) == 2
    assert [s.chat.chat_id for s in outbox.sent] == ["7001", "7001"]


async def test_quiet_hours_move_a_nudge_to_their_end_every_day(database: Database) -> None:
    clock = FakeClock(utc("2026-06-01T12:00"))
    outbox = ScriptedOutbox()
    scheduler, sender = rig(database, clock, outbox)
    late = onboarded("7002", "Europe/Berlin", time(23, 15))  # default quiet 22:00-08:00
    await enrol(database, late, clock.now())
    # 23:15 is inside quiet hours: it waits for 08:00 Berlin (06:00 UTC), day after day.
    for day in ("2026-06-02", "2026-06-03", "2026-06-04"):
        due = await due_of(database, late.user)
        assert due == utc(f"{day}T06:00")
        clock.current = due
        assert await step(scheduler, sender) == 1
    assert len(outbox.sent) == 3


async def test_own_quiet_hours_hold_back_a_nudge_and_close_its_window(
    database: Database,
) -> None:
    clock = FakeClock(utc("2026-06-01T12:00"))
    outbox = ScriptedOutbox()
    scheduler, sender = rig(database, clock, outbox)
    owl = onboarded("7013", "UTC", time(9, 0), quiet_start=time(9, 30), quiet_end=time(17, 0))
    offset = spread_offset(person_key(owl.user))
    await enrol(database, owl, clock.now())
    assert await due_of(database, owl.user) == utc("2026-06-02T09:00") + offset
    # Mend was down at 09:00; by 09:45 their own quiet hours have begun: no nudge now.
    clock.current = utc("2026-06-02T09:45")
    report = await scheduler.tick()
    assert (report.queued, report.stale) == (0, 1)
    assert await sender.drain_once() == 0


async def test_one_send_per_item_and_local_day_even_if_the_schedule_is_rewound(
    database: Database,
) -> None:
    clock = FakeClock(utc("2026-06-01T12:00"))
    outbox = ScriptedOutbox()
    scheduler, sender = rig(database, clock, outbox)
    profile = onboarded("7003", "Asia/Kolkata", time(9, 0), **NO_QUIET)
    await enrol(database, profile, clock.now())
    clock.current = await due_of(database, profile.user)
    assert await step(scheduler, sender) == 1

    # A crash between send and commit would leave the subscription at its old due time:
    # the delivery record still refuses a second send for the same local day.
    def rewind(connection: Connection) -> None:
        connection.execute(update(subscriptions).values(next_due_at=clock.now()))

    await database.run(rewind)
    assert await step(scheduler, sender) == 0
    assert len(outbox.sent) == 1
    assert [s for _, s, _ in await database.run(statuses)] == ["sent"]


async def test_after_downtime_a_morning_action_goes_until_noon_then_is_skipped(
    database: Database,
) -> None:
    clock = FakeClock(utc("2026-06-01T12:00"))
    outbox = ScriptedOutbox()
    scheduler, sender = rig(database, clock, outbox)
    early = onboarded("7004", "UTC", time(8, 30))
    await enrol(database, early, clock.now())
    # Down from before 08:30 on 2 June until 11:00 on 4 June: the missed days are not
    # replayed; 4 June's action is still inside its window (until noon) and goes once.
    clock.current = utc("2026-06-04T11:00")
    report = await scheduler.tick()
    assert (report.queued, report.stale, report.missed) == (1, 0, 2)
    while await sender.drain_once():
        pass
    assert len(outbox.sent) == 1 and outbox.sent[0].reply.text.endswith("2026-06-04")

    # Down again from before 08:30 on 5 June until 13:00: too late, skipped and counted.
    clock.current = utc("2026-06-05T13:00")
    report = await scheduler.tick()
    assert (report.queued, report.stale) == (0, 1)
    assert await sender.drain_once() == 0
    assert len(outbox.sent) == 1
    rows = await database.run(statuses)
    assert rows[-1][1:] == ("skipped", "2026-06-05")
    assert await due_of(database, early.user) > clock.now()


async def test_a_break_timer_set_before_downtime_goes_out_at_once_after_it(
    database: Database,
) -> None:
    clock = FakeClock(utc("2026-06-01T12:00"))
    outbox = ScriptedOutbox()
    _, sender = rig(database, clock, outbox)
    profile = onboarded("7005", "UTC", time(8, 30))
    await enrol(database, profile, clock.now())
    end = clock.now() + timedelta(minutes=20)
    await set_timer(database, "pause:7005:1", end, ItemKind.BREAK_END, profile.user)
    clock.advance(minutes=19)
    assert await sender.drain_once() == 0
    clock.advance(hours=30)  # Mend was down; in quiet hours too: a break end still goes
    clock.current = clock.current.replace(hour=23)
    assert await sender.drain_once() == 1
    assert [s.reply.key for s in outbox.sent] == ["test.break_end"]


async def test_timers_are_replaced_and_cancelled_by_key(database: Database) -> None:
    clock = FakeClock(utc("2026-06-01T12:00"))
    outbox = ScriptedOutbox()
    _, sender = rig(database, clock, outbox)
    profile = onboarded("7006", "UTC", time(8, 30))
    await enrol(database, profile, clock.now())

    async def plan(minutes: int) -> None:
        at = clock.now() + timedelta(minutes=minutes)
        await set_timer(database, "remind:7006", at, ItemKind.REMINDER, profile.user)

    await plan(10)
    await plan(30)
    clock.advance(minutes=15)
    assert await sender.drain_once() == 0  # the 10-minute one was replaced
    assert await database.run(lambda c: TimerRepository(c).cancel("remind:7006")) is True
    clock.advance(minutes=30)
    assert await sender.drain_once() == 0
    assert outbox.sent == []


async def test_a_429_puts_the_item_back_after_retry_after_without_an_attempt(
    database: Database,
) -> None:
    clock = FakeClock(utc("2026-06-01T12:00"))
    outbox = ScriptedOutbox(script={"7007": [RateLimited(30)]})
    scheduler, sender = rig(database, clock, outbox)
    profile = onboarded("7007", "UTC", time(12, 30), **NO_QUIET)
    await enrol(database, profile, clock.now())
    clock.current = await due_of(database, profile.user)
    assert await step(scheduler, sender) == 1
    assert outbox.sent == []

    def row(connection: Connection) -> tuple[str, int, datetime]:
        found = connection.execute(
            select(deliveries.c.status, deliveries.c.attempts, deliveries.c.not_before)
        ).one()
        return found.status, found.attempts, found.not_before.replace(tzinfo=UTC)

    status, attempts, not_before = await database.run(row)
    assert (status, attempts, not_before) == ("queued", 0, clock.now() + timedelta(seconds=30))
    clock.advance(seconds=29)
    assert await sender.drain_once() == 0
    clock.advance(seconds=1)
    assert await sender.drain_once() == 1
    assert outbox.chats() == ["7007"]
    assert (await database.run(row))[:2] == ("sent", 0)
    assert sender.tally.rate_limited == 1 and sender.tally.sent == 1


async def test_a_refused_delivery_switches_the_subscription_off_and_marks_the_person(
    database: Database,
) -> None:
    clock = FakeClock(utc("2026-06-01T12:00"))
    outbox = ScriptedOutbox(script={"7008": [DeliveryRefused("blocked")]})
    scheduler, sender = rig(database, clock, outbox)
    blocked = onboarded("7008", "UTC", time(12, 30), **NO_QUIET)
    fine = onboarded("7009", "UTC", time(12, 30), **NO_QUIET)
    for profile in (blocked, fine):
        await enrol(database, profile, clock.now())
    clock.advance(hours=1)
    assert await step(scheduler, sender) == 2
    assert outbox.chats() == ["7009"]

    def state(connection: Connection) -> dict[str, tuple[bool, bool]]:
        rows = connection.execute(
            select(
                users.c.platform_user_id, users.c.unreachable_since, subscriptions.c.active
            ).join(subscriptions, subscriptions.c.user_id == users.c.id)
        )
        return {r.platform_user_id: (r.unreachable_since is not None, r.active) for r in rows}

    assert await database.run(state) == {"7008": (True, False), "7009": (False, True)}
    clock.advance(days=1)
    assert await step(scheduler, sender) == 1
    assert outbox.chats() == ["7009", "7009"]


async def test_unknown_outcomes_nudges_are_not_resent_break_timers_once(
    database: Database,
) -> None:
    clock = FakeClock(utc("2026-06-01T12:00"))
    outbox = ScriptedOutbox(
        after_send={"7010": [DeliveryUnknown("timed out"), DeliveryUnknown("timed out again")]}
    )
    scheduler, sender = rig(database, clock, outbox)
    profile = onboarded("7010", "UTC", time(12, 30), **NO_QUIET)
    await enrol(database, profile, clock.now())
    soon = clock.now() + timedelta(minutes=50)
    await set_timer(database, "pause:7010:1", soon, ItemKind.BREAK_END, profile.user)
    clock.advance(minutes=40)
    assert await step(scheduler, sender) == 1  # the nudge: outcome unknown
    clock.advance(minutes=20)
    # The break end: unknown too, so queued once more and resent (it worked this time).
    assert await step(scheduler, sender) == 2
    assert [s.reply.key for s in outbox.sent] == [
        "test.morning",
        "test.break_end",
        "test.break_end",
    ]
    outcome = {item.split(":")[0]: status for item, status, _ in await database.run(statuses)}
    assert outcome == {"sub": "unknown", "timer": "sent"}


async def test_safety_mode_and_stop_mean_no_nudge(database: Database) -> None:
    clock = FakeClock(utc("2026-06-01T12:00"))
    outbox = ScriptedOutbox()
    scheduler, sender = rig(database, clock, outbox)
    held = onboarded("7011", "UTC", time(12, 30), safety_mode=True, **NO_QUIET)
    await enrol(database, held, clock.now())
    clock.advance(hours=1)
    assert await step(scheduler, sender) == 1
    assert outbox.sent == []
    rows = await database.run(
        lambda c: c.execute(select(deliveries.c.status, deliveries.c.reason)).all()
    )
    assert [tuple(r) for r in rows] == [("skipped", "safety_mode")]


async def test_a_crash_mid_batch_leaves_nudges_unknown_and_break_timers_queued_once(
    database: Database,
) -> None:
    clock = FakeClock(utc("2026-06-01T12:00"))
    outbox = ScriptedOutbox()
    scheduler, sender = rig(database, clock, outbox)
    profile = onboarded("7012", "UTC", time(12, 30), **NO_QUIET)
    await enrol(database, profile, clock.now())
    soon = clock.now() + timedelta(minutes=20)
    await set_timer(database, "pause:7012:1", soon, ItemKind.BREAK_END, profile.user)
    clock.advance(hours=1)
    await scheduler.tick()
    # A process claims the batch, hands both to the platform ("sending") and dies before
    # recording: it is unknown whether they went out.
    claimed = await database.run(lambda c: claim(c, Platform.TELEGRAM, clock.now(), 10))
    assert len(claimed) == 2
    assert await sender.drain_once() == 0  # nobody else sends rows another process holds
    assert await database.run(lambda c: mark_sending(c, claimed)) == {i.id for i in claimed}
    clock.advance(minutes=6)
    assert (
        await database.run(
            lambda c: recover_stale(c, clock.now(), clock.now() - timedelta(minutes=5))
        )
        == 2
    )
    assert await sender.drain_once() == 1
    assert [s.reply.key for s in outbox.sent] == ["test.break_end"]
    rows = {item: status for item, status, _ in await database.run(statuses)}
    assert rows == {"sub:1": "unknown", "timer:pause:7012:1": "sent"} or sorted(rows.values()) == [
        "sent",
        "unknown",
    ]


SLOW = PlatformLimits(overall_per_s=None, bulk_per_s=20)  # three sends: about 0.1 s


@pytest.mark.parametrize(("limits", "after_claim"), [(SLOW, "claimed"), (UNLIMITED, "sending")])
async def test_paced_each_send_is_marked_as_it_goes_unpaced_the_batch_as_it_is_claimed(
    database: Database, limits: PlatformLimits, after_claim: str
) -> None:
    clock = FakeClock(utc("2026-06-01T12:00"))
    seen: list[list[str]] = []
    outbox = ScriptedOutbox()

    class Watching(ScriptedOutbox):
        async def send(self, chat: ChatRef, reply: Reply, *, nonce: str | None = None) -> None:
            seen.append(sorted(s for _, s, _ in await database.run(statuses)))
            await outbox.send(chat, reply, nonce=nonce)

    scheduler = Scheduler(database, PlainRenderer(), clock, retention_days=180)
    sender = scheduler.attach(Platform.TELEGRAM, Watching(), SendGate(limits), batch=3)
    for n in range(3):
        await enrol(database, onboarded(f"708{n}", "UTC", time(12, 30), **NO_QUIET), clock.now())
    clock.advance(hours=1)
    await scheduler.tick()
    assert await sender.drain_once() == 3
    if after_claim == "claimed":  # one by one: the rest wait "claimed" while one goes
        assert seen[0] == ["claimed", "claimed", "sending"]
    else:
        assert seen[0] == ["sending", "sending", "sending"]
    assert [s for _, s, _ in await database.run(statuses)] == ["sent"] * 3


async def test_a_crash_before_the_platform_calls_queues_the_claimed_rows_again(
    database: Database,
) -> None:
    clock = FakeClock(utc("2026-06-01T12:00"))
    outbox = ScriptedOutbox()
    scheduler, sender = rig(database, clock, outbox)
    profile = onboarded("7020", "UTC", time(12, 30), **NO_QUIET)
    await enrol(database, profile, clock.now())
    await set_timer(database, "pause:7020:1", clock.now(), ItemKind.BREAK_END, profile.user)
    clock.advance(hours=1)
    await scheduler.tick()
    # A process claims the batch and dies before handing anything to the platform.
    claimed = await database.run(lambda c: claim(c, Platform.TELEGRAM, clock.now(), 10))
    assert len(claimed) == 2
    clock.advance(minutes=6)
    recovered = await database.run(
        lambda c: recover_stale(c, clock.now(), clock.now() - timedelta(minutes=5))
    )
    assert recovered == 2
    assert await sender.drain_once() == 2  # both go out, each once
    assert sorted(s.reply.key for s in outbox.sent) == ["test.break_end", "test.morning"]
    assert [s for _, s, _ in await database.run(statuses)] == ["sent", "sent"]
    attempts = await database.run(lambda c: c.execute(select(deliveries.c.attempts)).all())
    assert [a for (a,) in attempts] == [0, 0]


async def test_a_row_taken_back_while_its_sender_waited_is_not_sent_by_it(
    database: Database,
) -> None:
    # The sender waits at the gate past the lease (a long 429 hold, say); meanwhile the
    # row is taken back and claimed by another sender. The first must not send it.
    clock = FakeClock(utc("2026-06-01T12:00"))
    outbox = ScriptedOutbox()
    other: list[Claimed] = []

    class SlowGate(SendGate):
        async def bulk(self, priority: int, chat_key: str, *, group: bool) -> None:
            clock.advance(minutes=6)
            now = clock.now()

            def take_back(connection: Connection) -> None:
                recover_stale(connection, now, now - timedelta(minutes=5))
                other.extend(claim(connection, Platform.TELEGRAM, now, 10))

            await database.run(take_back)

    scheduler, sender = rig(database, clock, outbox, SlowGate(PACED))
    await enrol(database, onboarded("7021", "UTC", time(12, 30), **NO_QUIET), clock.now())
    clock.advance(hours=1)
    await scheduler.tick()
    assert await sender.drain_once() == 1
    assert outbox.sent == [] and sender.tally.reclaimed == 1
    assert len(other) == 1  # the other sender holds it, still claimed, and may send it
    assert [s for _, s, _ in await database.run(statuses)] == ["claimed"]
    assert await database.run(lambda c: mark_sending(c, other)) == {other[0].id}


@pytest.mark.parametrize("result", [Result.SENT, Result.RATE_LIMITED, Result.UNKNOWN])
async def test_a_late_outcome_never_overwrites_a_row_taken_back_meanwhile(
    database: Database, result: Result
) -> None:
    # Sender A held its batch past the lease (a long 429, say). The break end was taken
    # back and claimed by sender B; the nudge was recorded unknown. A's outcomes, when
    # they finally come, must leave both alone.
    clock = FakeClock(utc("2026-06-01T12:00"))
    scheduler, _ = rig(database, clock, ScriptedOutbox())
    profile = onboarded("7090", "UTC", time(12, 30), **NO_QUIET)
    await enrol(database, profile, clock.now())
    await set_timer(database, "pause:7090:1", clock.now(), ItemKind.BREAK_END, profile.user)
    clock.advance(hours=1)
    await scheduler.tick()
    first = await database.run(lambda c: claim(c, Platform.TELEGRAM, clock.now(), 10))
    assert await database.run(lambda c: mark_sending(c, first)) == {i.id for i in first}
    clock.advance(minutes=6)
    now = clock.now()

    def take_back(connection: Connection) -> list[Claimed]:
        recover_stale(connection, now, now - timedelta(minutes=5))
        return claim(connection, Platform.TELEGRAM, now, 10)

    second = await database.run(take_back)
    assert [item.kind for item in second] == [ItemKind.BREAK_END]
    await database.run(
        lambda c: settle(c, [Outcome(item, result, retry_after=60.0) for item in first], now)
    )
    rows = await database.run(
        lambda c: c.execute(
            select(deliveries.c.kind, deliveries.c.status, deliveries.c.claimed_at)
        ).all()
    )
    assert sorted(tuple(r) for r in rows) == [
        ("break_end", "claimed", now),
        ("morning", "unknown", first[0].claimed_at),
    ]


async def test_a_failed_render_costs_that_item_only(database: Database) -> None:
    clock = FakeClock(utc("2026-06-01T12:00"))
    outbox = ScriptedOutbox()

    class Fragile(PlainRenderer):
        def render(self, item: Claimed, now: datetime) -> Rendered:
            if item.profile is not None and item.profile.user.user_id == "7031":
                raise KeyError("a bug for this one item")
            return super().render(item, now)

    scheduler = Scheduler(database, Fragile(), clock, retention_days=180)
    sender = scheduler.attach(Platform.TELEGRAM, outbox, SendGate(UNLIMITED))
    for n in range(4):
        await enrol(database, onboarded(f"703{n}", "UTC", time(12, 30), **NO_QUIET), clock.now())
    clock.advance(hours=1)
    await scheduler.tick()
    assert await sender.drain() == 4
    assert sorted(outbox.chats()) == ["7030", "7032", "7033"]
    rows = await database.run(
        lambda c: c.execute(
            select(users.c.platform_user_id, deliveries.c.status, deliveries.c.reason).join(
                users, users.c.id == deliveries.c.user_id
            )
        ).all()
    )
    assert {tuple(r) for r in rows} == {
        ("7030", "sent", None),
        ("7031", "failed", "KeyError"),
        ("7032", "sent", None),
        ("7033", "sent", None),
    }


async def test_a_mark_the_database_refused_queues_the_item_again_unsent(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = FakeClock(utc("2026-06-01T12:00"))
    outbox = ScriptedOutbox()
    scheduler, sender = rig(database, clock, outbox, SendGate(PACED))
    await enrol(database, onboarded("7040", "UTC", time(12, 30), **NO_QUIET), clock.now())
    clock.advance(hours=1)
    await scheduler.tick()

    def broken(connection: Connection, items: list[Claimed]) -> set[int]:
        raise OperationalError("UPDATE", {}, Exception("disk I/O error"))

    monkeypatch.setattr("scheduler.marks.mark_sending", broken)
    assert await sender.drain_once() == 1
    assert outbox.sent == [] and sender.tally.retry == 1
    row = await database.run(
        lambda c: c.execute(
            select(deliveries.c.status, deliveries.c.attempts, deliveries.c.not_before)
        ).one()
    )
    assert tuple(row) == ("queued", 0, clock.now() + timedelta(seconds=MARK_RETRY_SECONDS))
    monkeypatch.undo()
    clock.advance(seconds=MARK_RETRY_SECONDS)
    assert await sender.drain_once() == 1
    assert outbox.chats() == ["7040"]


async def test_an_outage_pauses_scheduled_sends_and_costs_no_message(database: Database) -> None:
    clock = FakeClock(utc("2026-06-01T12:00"))
    held: list[float] = []

    class WatchedGate(SendGate):  # unpaced: the hold is noted, not waited out
        def hold(self, seconds: float) -> None:
            held.append(seconds)
            super().hold(seconds)

    outbox = ScriptedOutbox(script={"7050": [PlatformUnavailable("ConnectError")]})
    scheduler, sender = rig(database, clock, outbox, WatchedGate(UNLIMITED))
    profile = onboarded("7050", "UTC", time(12, 30), **NO_QUIET)
    await enrol(database, profile, clock.now())
    await set_timer(database, "pause:7050:1", clock.now(), ItemKind.BREAK_END, profile.user)
    clock.advance(hours=1)
    await scheduler.tick()
    assert await sender.drain_once() == 2  # the break end first: it meets the outage
    assert [s.reply.key for s in outbox.sent] == ["test.morning"]
    assert held == [OUTAGE_SECONDS] and sender.tally.retry == 1
    rows = await database.run(
        lambda c: c.execute(
            select(deliveries.c.item, deliveries.c.attempts, deliveries.c.not_before).where(
                deliveries.c.status == "queued"
            )
        ).all()
    )
    later = clock.now() + timedelta(seconds=OUTAGE_SECONDS)
    assert [tuple(r) for r in rows] == [("timer:pause:7050:1", 0, later)]
    assert await sender.drain_once() == 0  # not before the pause is over
    clock.advance(seconds=OUTAGE_SECONDS)
    assert await sender.drain_once() == 1
    assert [s.reply.key for s in outbox.sent] == ["test.morning", "test.break_end"]
    assert [s for _, s, _ in await database.run(statuses)] == ["sent", "sent"]


async def test_one_subscription_that_cannot_be_scheduled_does_not_stop_the_tick(
    database: Database,
) -> None:
    clock = FakeClock(utc("2026-06-01T12:00"))
    outbox = ScriptedOutbox()
    scheduler = Scheduler(database, PlainRenderer(), clock, retention_days=180, tick_batch=2)
    sender = scheduler.attach(Platform.TELEGRAM, outbox, SendGate(UNLIMITED))
    people = [onboarded(f"706{n}", "UTC", time(12, 30), **NO_QUIET) for n in range(4)]
    for profile in people:
        await enrol(database, profile, clock.now())

    def unknown_zone(connection: Connection) -> None:  # say, gone from the installed tzdata
        first = select(users.c.id).where(users.c.platform_user_id == "7060").scalar_subquery()
        connection.execute(
            update(subscriptions)
            .where(subscriptions.c.user_id == first)
            .values(timezone="Mars/Olympus_Mons")
        )

    await database.run(unknown_zone)
    clock.advance(hours=1)
    assert (await scheduler.tick()).queued == 3
    assert await sender.drain() == 3
    assert sorted(outbox.chats()) == ["7061", "7062", "7063"]
    assert await due_of(database, people[0].user) == clock.now() + timedelta(days=1)
    assert (await scheduler.tick()).queued == 0  # tried again tomorrow, not every tick


async def test_one_queued_row_this_version_cannot_read_does_not_stall_the_sender(
    database: Database,
) -> None:
    clock = FakeClock(utc("2026-06-01T12:00"))
    outbox = ScriptedOutbox()
    scheduler, sender = rig(database, clock, outbox)
    for n in range(3):
        await enrol(database, onboarded(f"707{n}", "UTC", time(12, 30), **NO_QUIET), clock.now())
    clock.advance(hours=1)
    assert (await scheduler.tick()).queued == 3

    def from_a_newer_version(connection: Connection) -> None:
        first = connection.execute(select(func.min(deliveries.c.id))).scalar_one()
        connection.execute(
            update(deliveries).where(deliveries.c.id == first).values(kind="horoscope")
        )

    await database.run(from_a_newer_version)
    assert await sender.drain() == 2
    assert len(outbox.sent) == 2
    rows = await database.run(
        lambda c: c.execute(select(deliveries.c.status, deliveries.c.reason)).all()
    )
    assert sorted(tuple(r) for r in rows) == [
        ("failed", "bad_row"),
        ("sent", None),
        ("sent", None),
    ]


async def test_an_answer_goes_out_before_the_next_of_2000_queued_nudges(
    database: Database,
) -> None:
    clock = FakeClock(utc("2026-06-01T12:00"))
    order: list[str] = []
    busy = asyncio.Event()

    def seen(sent: Sent) -> None:
        order.append(sent.reply.key)
        if len(order) >= 40:
            busy.set()

    outbox = ScriptedOutbox(on_send=seen)
    # Bulk unpaced: dozens of nudges wait at the overall limit, and the answer must jump them.
    gate = SendGate(PlatformLimits(overall_per_s=400, bulk_per_s=None))
    scheduler, sender = rig(database, clock, outbox, gate)

    def many(connection: Connection) -> None:
        people, subs = UserRepository(connection), SubscriptionRepository(connection)
        for n in range(2000):
            profile = onboarded(f"9{n:05d}", "UTC", time(12, 30), **NO_QUIET)
            people.create(profile.user, clock.now())
            people.save(profile, clock.now())
            subs.follow(profile, "UTC", clock.now())

    await database.run(many)
    clock.advance(hours=1)
    assert (await scheduler.tick()).queued == 2000
    stop = asyncio.Event()
    running = asyncio.create_task(sender.run(stop))
    await busy.wait()
    asked_at = len(order)
    async with gate.reply():
        await outbox.send(outbox.sent[0].chat, Reply(text="hi", key="answer"))
    stop.set()
    sender.wake()
    await running
    answered_at = order.index("answer")
    assert answered_at - asked_at <= 1, (asked_at, answered_at)
    assert len(order) < 2001  # the backlog was still there


async def test_a_reminder_waits_for_the_end_of_quiet_hours_a_break_end_does_not(
    database: Database,
) -> None:
    clock = FakeClock(utc("2026-06-01T01:00"))
    outbox = ScriptedOutbox()
    _, sender = rig(database, clock, outbox)
    sleeper = onboarded("7014", "Europe/Berlin", time(9, 0))  # quiet 22:00-08:00 Berlin
    await enrol(database, sleeper, clock.now())

    def plan(connection: Connection) -> tuple[datetime | None, datetime | None]:
        timers = TimerRepository(connection)
        for key, kind in (("remind", ItemKind.REMINDER), ("break", ItemKind.BREAK_END)):
            timers.schedule(key, clock.now(), {"say": "x"}, kind=kind, user=sleeper.user)
        return timers.pending("remind"), timers.pending("break")

    reminder, break_end = await database.run(plan)
    assert reminder == utc("2026-06-01T06:00")  # 08:00 in Berlin
    assert break_end == clock.now()
    assert await sender.drain_once() == 1
    assert [s.reply.key for s in outbox.sent] == ["test.break_end"]
    clock.current = utc("2026-06-01T06:00")
    assert await sender.drain_once() == 1


async def test_a_popular_slot_moves_on_together_and_each_person_keeps_their_own_time(
    database: Database,
) -> None:
    # Quiet hours move 07:30 and its spread to 08:00 for everyone (one next instant, one
    # statement); without quiet hours each person keeps their own spread (one per row).
    clock = FakeClock(utc("2026-06-01T12:00"))
    outbox = ScriptedOutbox()
    scheduler, sender = rig(database, clock, outbox)
    quiet = [onboarded(f"75{n:02d}", "Europe/Berlin", time(7, 30)) for n in range(12)]
    spread = [onboarded(f"76{n:02d}", "Europe/Berlin", time(9, 0), **NO_QUIET) for n in range(12)]
    for profile in (*quiet, *spread):
        await enrol(database, profile, clock.now())
    clock.current = utc("2026-06-02T07:10")  # after every one of them is due
    report = await scheduler.tick()
    assert report.queued == 24 and report.missed == 0
    assert await sender.drain() == 24
    assert len(outbox.sent) == 24 and sender.tally.sent == 24
    for profile in quiet:
        assert await due_of(database, profile.user) == utc("2026-06-03T06:00")
    for profile in spread:
        offset = spread_offset(person_key(profile.user))
        assert await due_of(database, profile.user) == utc("2026-06-03T07:00") + offset
    rows = await database.run(statuses)
    assert {status for _, status, _ in rows} == {"sent"}
    assert {date for *_, date in rows} == {"2026-06-02"}


async def test_drain_sends_everything_and_a_stop_still_settles_what_was_claimed(
    database: Database,
) -> None:
    clock = FakeClock(utc("2026-06-01T12:00"))
    outbox = ScriptedOutbox()
    scheduler = Scheduler(database, PlainRenderer(), clock, retention_days=180)
    sender = Sender(
        Platform.TELEGRAM, database, outbox, SendGate(UNLIMITED), PlainRenderer(), clock, batch=3
    )
    people = [onboarded(f"77{n:02d}", "UTC", time(13, 0), **NO_QUIET) for n in range(7)]
    for profile in people:
        await enrol(database, profile, clock.now())
    clock.advance(hours=2)
    assert (await scheduler.tick()).queued == 7
    stop = asyncio.Event()
    stop.set()  # set before the first batch: that batch is sent and settled, no more
    assert await sender.drain(stop) == 3
    assert [s for _, s, _ in await database.run(statuses)].count("sent") == 3
    assert await sender.drain() == 4  # three batches: 3 + 1, then an empty claim
    assert [s for _, s, _ in await database.run(statuses)] == ["sent"] * 7
    assert len(outbox.sent) == 7
    assert len({s.chat.chat_id for s in outbox.sent}) == 7
    assert await sender.drain() == 0


async def test_claimed_items_know_who_is_on_a_break_right_now(database: Database) -> None:
    """A couple's running break (and a break alone) marks their items; an ended one does not."""
    clock = FakeClock(utc("2026-06-01T12:00"))
    scheduler, _sender = rig(database, clock, ScriptedOutbox())
    people = {name: onboarded(name, "UTC", time(12, 30), **NO_QUIET) for name in "abcde"}
    for profile in people.values():
        await enrol(database, profile, clock.now())
    start = clock.now()

    def breaks_for(connection: Connection) -> None:
        couples = CoupleRepository(connection)
        pauses = BreakRepository(connection)
        ids = {name: couples.member_id(p.user) for name, p in people.items()}
        paused = couples.pair(people["a"].user, "A", people["b"].user, "B", start)
        pauses.start(paused.id, ids["a"] or 0, start, start + timedelta(hours=2))
        pauses.start(None, ids["c"] or 0, start, start + timedelta(hours=2))  # c, alone
        over = couples.pair(people["d"].user, "D", people["e"].user, "E", start)
        pauses.start(over.id, ids["d"] or 0, start, start + timedelta(minutes=20))

    await database.run(breaks_for)
    clock.advance(hours=1)
    await scheduler.tick()
    items = await database.run(lambda c: claim(c, Platform.TELEGRAM, clock.now(), 10))
    marked = {item.profile.user.user_id: item.on_break for item in items if item.profile}
    assert marked == {"a": True, "b": True, "c": True, "d": False, "e": False}


async def test_on_sqlite_the_senders_take_turns_with_the_tick_on_postgresql_they_start_at_once(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = FakeClock(utc("2026-06-01T12:00"))
    queued_batches = [0]

    loop = asyncio.get_running_loop()

    def counted_queue_due(connection: Connection, now: datetime, limit: int) -> QueuedDue:
        done = queue_due(connection, now, limit)
        queued_batches[0] += 1
        if queued_batches[0] == 1:  # something to send: a sender left alone would go now
            loop.call_soon_threadsafe(wake)
        return done

    monkeypatch.setattr("scheduler.clockwork.queue_due", counted_queue_due)
    during_tick: list[bool] = []  # for each send: had the tick still batches to queue?
    outbox = ScriptedOutbox(on_send=lambda _: during_tick.append(queued_batches[0] < 7))
    scheduler = Scheduler(database, PlainRenderer(), clock, retention_days=180, tick_batch=2)
    sender = scheduler.attach(Platform.TELEGRAM, outbox, SendGate(UNLIMITED), batch=2)
    wakes = [0]
    wake = sender.wake

    def counted_wake() -> None:
        wakes[0] += 1
        wake()

    sender.wake = counted_wake  # type: ignore[method-assign]
    for n in range(12):
        await enrol(database, onboarded(f"79{n:02d}", "UTC", time(13, 0), **NO_QUIET), clock.now())
    clock.advance(hours=2)
    stop = asyncio.Event()
    running = asyncio.create_task(sender.run(stop))
    await asyncio.wait_for(sender.idle(), timeout=30)  # its first look found nothing
    assert (await scheduler.tick()).queued == 12  # six batches of two, then an empty one
    assert queued_batches[0] == 7
    await asyncio.wait_for(sender.idle(), timeout=30)
    stop.set()
    sender.wake()
    await running
    assert len(during_tick) == 12
    if database.dialect == "sqlite":
        assert not any(during_tick), "a nudge was sent while the tick still queued"
        assert wakes[0] == 1 + 1 + 1  # released after the last batch, at the end, to stop
    else:
        assert wakes[0] == 6 + 1 + 1  # after each of the six batches, at the end, to stop
    assert [s for _, s, _ in await database.run(statuses)] == ["sent"] * 12


async def test_a_held_sender_finishes_its_batch_and_claims_again_once_released(
    sqlite_db: Database,
) -> None:
    clock = FakeClock(utc("2026-06-01T12:00"))
    outbox = ScriptedOutbox()
    scheduler = Scheduler(sqlite_db, PlainRenderer(), clock, retention_days=180)
    sender = scheduler.attach(Platform.TELEGRAM, outbox, SendGate(UNLIMITED), batch=3)
    third = asyncio.Event()

    def on_send(_: Sent) -> None:
        if len(outbox.sent) == 1:
            sender.hold()
        if len(outbox.sent) == 3:
            third.set()

    outbox.on_send = on_send
    for n in range(5):
        await enrol(sqlite_db, onboarded(f"81{n:02d}", "UTC", time(13, 0), **NO_QUIET), clock.now())
    clock.advance(hours=2)
    assert (await scheduler.tick()).queued == 5
    draining = asyncio.create_task(sender.drain())
    await asyncio.wait_for(third.wait(), timeout=30)
    for _ in range(20):  # time to claim again, were it not held
        await asyncio.sleep(0.01)
    assert not draining.done() and len(outbox.sent) == 3  # the batch in hand, no more
    assert (
        sorted(s for _, s, _ in await sqlite_db.run(statuses)) == ["queued"] * 2 + ["sending"] * 3
    )
    sender.release()
    assert await asyncio.wait_for(draining, timeout=30) == 5
    assert [s for _, s, _ in await sqlite_db.run(statuses)] == ["sent"] * 5


async def test_idle_after_a_tick_means_everything_it_queued_is_sent(database: Database) -> None:
    clock = FakeClock(utc("2026-06-01T12:00"))
    outbox = ScriptedOutbox()
    scheduler = Scheduler(database, PlainRenderer(), clock, retention_days=180, tick_batch=3)
    sender = scheduler.attach(Platform.TELEGRAM, outbox, SendGate(UNLIMITED), batch=2)
    stop = asyncio.Event()
    running = asyncio.create_task(sender.run(stop))
    await asyncio.wait_for(sender.idle(), timeout=30)  # nothing due yet
    for n in range(11):
        await enrol(database, onboarded(f"80{n:02d}", "UTC", time(13, 0), **NO_QUIET), clock.now())
    clock.advance(hours=2)
    assert (await scheduler.tick()).queued == 11
    await asyncio.wait_for(sender.idle(), timeout=30)
    assert len(outbox.sent) == 11 and sender.tally.sent == 11
    assert [s for _, s, _ in await database.run(statuses)] == ["sent"] * 11
    stop.set()
    sender.wake()
    await running
