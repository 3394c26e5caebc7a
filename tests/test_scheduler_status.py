"""``mend scheduler status``: due counts, last tick, backlog and deliveries today."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from pathlib import Path

from core.outbox import DeliveryRefused
from core.schedule.kinds import ItemKind
from core.storage import Database
from core.storage.deliveries import claim, recover_stale
from core.types import Platform
from scheduler.clockwork import Scheduler
from scheduler.pacing import UNLIMITED, SendGate
from scheduler.status import read_status
from tests.cli import run_mend
from tests.fakes import FakeClock
from tests.scheduler_fakes import PlainRenderer, ScriptedOutbox, enrol, onboarded, set_timer

NO_QUIET = {"quiet_start": time(0, 0), "quiet_end": time(0, 0)}
START = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


async def test_status_counts_what_is_due_waiting_and_sent_today(database: Database) -> None:
    clock = FakeClock(START)
    outbox = ScriptedOutbox(script={"8203": [DeliveryRefused("blocked")]})
    scheduler = Scheduler(database, PlainRenderer(), clock, retention_days=180)
    sender = scheduler.attach(Platform.TELEGRAM, outbox, SendGate(UNLIMITED))
    for n in range(1, 4):  # due at 12:30 (and a few minutes' spread)
        await enrol(database, onboarded(f"820{n}", "UTC", time(12, 30), **NO_QUIET), START)
    await enrol(database, onboarded("8204", "UTC", time(13, 20), **NO_QUIET), START)
    clock.current = START + timedelta(minutes=45)
    now = clock.now()

    status = await database.run(lambda c: read_status(c, now))
    assert status.due_now == {"morning": 3}
    assert status.due_next_hour == {"morning": 1}
    assert status.last_tick is None and status.backlog == {} and status.today == {}

    await set_timer(
        database,
        "remind:8201",
        now + timedelta(hours=2),
        ItemKind.REMINDER,
        onboarded("8201", "UTC", time(12, 30)).user,
    )
    assert (await scheduler.tick()).queued == 3
    status = await database.run(lambda c: read_status(c, now))
    assert status.due_now == {} and status.last_tick == now
    assert status.backlog == {"telegram": 3} and status.later == 1 and status.sending == 0
    # A claim in hand, not yet sent, counts as sending (and a crash would put it back).
    await database.run(lambda c: claim(c, Platform.TELEGRAM, now, 2))
    status = await database.run(lambda c: read_status(c, now))
    assert status.backlog == {"telegram": 1} and status.sending == 2
    await database.run(lambda c: recover_stale(c, now, now + timedelta(seconds=1)))

    assert await sender.drain() == 3
    status = await database.run(lambda c: read_status(c, now))
    assert status.backlog == {} and status.today == {"sent": 2, "refused": 1}, status
    lines = status.lines(now + timedelta(seconds=30))
    assert lines == [
        "due now:          none",
        "due next hour:    morning 1",
        f"last tick:        {now.isoformat(timespec='seconds')} (30 s ago)",
        "backlog:          none",
        "timers waiting:   1",
        "sending:          0",
        "deliveries today: refused 1, sent 2",
    ]


def test_the_command_prints_the_status_of_a_fresh_database(tmp_path: Path) -> None:
    done = run_mend(tmp_path, "scheduler", "status", database=tmp_path / "mend.db")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "due now:          none",
        "due next hour:    none",
        "last tick:        never",
        "backlog:          none",
        "timers waiting:   0",
        "sending:          0",
        "deliveries today: none",
    ]
