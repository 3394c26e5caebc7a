"""The one clock: an APScheduler ``AsyncIOScheduler`` running the tick and housekeeping.

There are no per-person APScheduler jobs and no APScheduler job store: the database is
the schedule (``core.storage.subscriptions`` and ``core.storage.deliveries``). The tick
runs every ``tick_seconds`` (coalesced, never two at once) and:

1. turns due subscriptions into queued sends, in batches, each its own transaction.
   On PostgreSQL the senders are woken after each batch, so sending starts with the
   first. On SQLite they are held until the last: both would run Python on either side
   of the one database thread at once, and the contention for the interpreter lock
   (ten times the context switches) made a burst about a third slower than taking
   turns (``bench/RESULTS.md``);
2. settles sends a dead process left ``sending`` (see ``recover_stale``);
3. records a heartbeat for ``mend scheduler status``;
4. wakes the senders.

A daily job purges free text past the retention period and old delivery records.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import Connection, update

from core.clock import Clock
from core.outbox import Outbox
from core.privacy import purge_expired_text
from core.storage import Database
from core.storage.deliveries import prune_settled, recover_stale
from core.storage.repositories import insert_ignoring_conflicts
from core.storage.subscriptions import QueuedDue, queue_due
from core.storage.tables import scheduler_ticks
from core.types import Platform
from scheduler.pacing import SendGate
from scheduler.sender import Renderer, Sender

__all__ = ["Scheduler", "TickReport"]

log = logging.getLogger(__name__)

TICK_SECONDS = 15
TICK_BATCH = 200
"""Subscriptions claimed per transaction by the tick: small enough that an answer waiting
behind one on SQLite's single writer thread is not kept waiting long (bench/RESULTS.md)."""
LEASE = timedelta(minutes=5)
"""After this long a ``sending`` row is taken for abandoned by a dead process (PostgreSQL;
on SQLite, the only process recovers everything at start)."""
KEEP_RECORDS = timedelta(days=14)
"""Delivery records are kept this long after they settle."""


@dataclass(frozen=True, slots=True)
class TickReport:
    """What one tick did."""

    queued: int = 0
    stale: int = 0
    missed: int = 0
    recovered: int = 0


@dataclass(slots=True)
class _Senders:
    by_platform: dict[Platform, Sender] = field(default_factory=dict)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)


def node_name() -> str:
    """A name for this process in ``scheduler_ticks``: host, pid and a random part."""
    return f"{socket.gethostname()[:32]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Scheduler:
    """Owns the clock, the tick and one sender per attached platform."""

    def __init__(
        self,
        database: Database,
        renderer: Renderer,
        clock: Clock,
        *,
        retention_days: int,
        tick_seconds: float = TICK_SECONDS,
        tick_batch: int = TICK_BATCH,
        lease: timedelta = LEASE,
    ) -> None:
        self._database = database
        self._renderer = renderer
        self._clock = clock
        self._retention_days = retention_days
        self._tick_seconds = tick_seconds
        self._tick_batch = tick_batch
        self._lease = lease
        self._senders = _Senders()
        self._stop = asyncio.Event()
        self._busy = asyncio.Lock()
        self._apscheduler: AsyncIOScheduler | None = None
        self.node = node_name()

    def attach(
        self, platform: Platform, outbox: Outbox, gate: SendGate, *, batch: int | None = None
    ) -> Sender:
        """Send ``platform``'s due items through ``outbox``, paced by ``gate``.

        ``batch`` overrides the sender's own batch size (see ``Sender``).
        """
        sender = Sender(
            platform, self._database, outbox, gate, self._renderer, self._clock, batch=batch
        )
        self._senders.by_platform[platform] = sender
        if self._apscheduler is not None:  # attached after start: run it at once
            self._senders.tasks.append(asyncio.create_task(sender.run(self._stop)))
        return sender

    @property
    def senders(self) -> dict[Platform, Sender]:
        """The attached senders by platform."""
        return dict(self._senders.by_platform)

    async def start(self) -> None:
        """Recover what a crash left behind, then start ticking and sending."""
        now = self._clock.now()
        await self._database.run(lambda connection: self._register(connection, now))
        if self._database.dialect == "sqlite":
            # One process per SQLite file: whatever is still "sending" was left by a crash.
            recovered = await self._database.run(
                lambda connection: recover_stale(connection, now, now + timedelta(seconds=1))
            )
            if recovered:
                log.warning("recovered %d sends a previous run left unfinished", recovered)
        self._stop.clear()
        clockwork = AsyncIOScheduler(timezone=UTC)
        clockwork.add_job(
            self._tick_job,
            "interval",
            seconds=self._tick_seconds,
            id="tick",
            coalesce=True,
            max_instances=1,
            next_run_time=datetime.now(UTC),
        )
        clockwork.add_job(
            self._housekeeping_job,
            "interval",
            hours=24,
            id="housekeeping",
            coalesce=True,
            max_instances=1,
            next_run_time=datetime.now(UTC) + timedelta(minutes=1),
        )
        clockwork.start()
        self._apscheduler = clockwork
        for sender in self._senders.by_platform.values():
            self._senders.tasks.append(asyncio.create_task(sender.run(self._stop)))
        log.info(
            "scheduler started (tick every %gs, senders: %s)",
            self._tick_seconds,
            ", ".join(p.value for p in self._senders.by_platform) or "none",
        )

    async def stop(self) -> None:
        """Stop ticking (a tick under way finishes first); let senders record their batch."""
        if self._apscheduler is not None:
            self._apscheduler.pause()
            async with self._busy:  # shutting down would cancel a tick half-way
                self._apscheduler.shutdown(wait=False)
            self._apscheduler = None
        self._stop.set()
        self._wake_senders()
        tasks, self._senders.tasks = self._senders.tasks, []
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _tick_job(self) -> None:
        async with self._busy:
            try:
                await self.tick()
            except Exception as exc:  # the database may be briefly unavailable
                log.error("tick failed (%s); the next one retries", type(exc).__name__)

    async def _housekeeping_job(self) -> None:
        async with self._busy:
            try:
                await self.housekeeping()
            except Exception as exc:
                log.error("housekeeping failed (%s); it runs again tomorrow", type(exc).__name__)

    async def tick(self) -> TickReport:
        """Queue what is due, recover abandoned sends, beat, wake the senders."""
        now = self._clock.now()
        total = QueuedDue()
        senders = list(self._senders.by_platform.values())  # the ones held are released
        in_turns = self._database.dialect == "sqlite"
        if in_turns:
            for sender in senders:
                sender.hold()
        try:
            while True:
                done = await self._database.run(
                    lambda connection: queue_due(connection, now, self._tick_batch)
                )
                total = QueuedDue(
                    total.queued + done.queued,
                    total.stale + done.stale,
                    total.missed + done.missed,
                    total.broken + done.broken,
                )
                if done.queued and not in_turns:
                    self._wake_senders()
                if done.claimed < self._tick_batch:
                    break
        finally:
            if in_turns:
                for sender in senders:
                    sender.release()
        recovered = await self._database.run(
            lambda connection: recover_stale(connection, now, now - self._lease)
        )
        await self._database.run(lambda connection: self._beat(connection, now, total.stale))
        self._wake_senders()
        if total.stale or total.missed:
            log.info(
                "tick: skipped %d items past their grace window and %d missed while down",
                total.stale,
                total.missed,
            )
        if recovered:
            log.warning("tick: recovered %d sends left unfinished", recovered)
        return TickReport(total.queued, total.stale, total.missed, recovered)

    def _wake_senders(self) -> None:
        for sender in self._senders.by_platform.values():
            sender.wake()

    async def housekeeping(self) -> None:
        """Daily: purge free text past retention and delivery records past two weeks."""
        now = self._clock.now()
        await purge_expired_text(self._database, now, self._retention_days)
        pruned = await self._database.run(
            lambda connection: prune_settled(connection, now - KEEP_RECORDS)
        )
        log.info("housekeeping: pruned %d old delivery records", pruned)

    def _register(self, connection: Connection, now: datetime) -> None:
        insert = insert_ignoring_conflicts(scheduler_ticks)[connection.dialect.name]
        connection.execute(insert, {"node": self.node, "started_at": now, "skipped_stale": 0})

    def _beat(self, connection: Connection, now: datetime, stale: int) -> None:
        beat = connection.execute(
            update(scheduler_ticks)
            .where(scheduler_ticks.c.node == self.node)
            .values(last_tick_at=now, skipped_stale=scheduler_ticks.c.skipped_stale + stale)
        )
        if not beat.rowcount:  # not registered (a tick without start), or the row was lost
            insert = insert_ignoring_conflicts(scheduler_ticks)[connection.dialect.name]
            connection.execute(
                insert,
                {"node": self.node, "started_at": now, "last_tick_at": now, "skipped_stale": stale},
            )
