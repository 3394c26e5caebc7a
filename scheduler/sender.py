"""The sender: drains one platform's send queue from the database, paced, by priority.

It claims a batch of due rows (``core.storage.deliveries.claim``: by priority, then due
time; on PostgreSQL skipping rows another process holds), renders each through the core,
waits its turn at the platform's :class:`~scheduler.pacing.SendGate`, sends, and records
every outcome in one commit. The backlog stays in the database; only one batch is ever in
memory. A batch is sized to about two seconds of sending at the platform's pace, which also
bounds what a crash can leave unknown.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from core.clock import Clock
from core.outbox import DeliveryRefused, DeliveryUnknown, Outbox, RateLimited
from core.schedule.kinds import priority_of
from core.storage import Database
from core.storage.deliveries import Claimed, Outcome, Result, claim, settle
from core.types import ChatRef, Platform, Reply
from scheduler.pacing import SendGate

__all__ = ["Rendered", "Renderer", "Sender"]

log = logging.getLogger(__name__)

UNPACED_BATCH = 100
"""Rows per batch when the platform sets no pace (the recording outbox): small enough that
a person's answer never waits long behind a batch on SQLite's single writer thread."""
IN_FLIGHT = 32
"""Sends awaiting the platform at once: enough to fill the pace despite network latency."""


class Rendered(Protocol):
    """What the core made of a claimed item: a reply, or None and why not."""

    @property
    def reply(self) -> Reply | None:
        """The message to send, or None to skip it."""
        ...

    @property
    def reason(self) -> str | None:
        """Why it is skipped (``stopped``, ``safety_mode``, …), when it is."""
        ...


class Renderer(Protocol):
    """The core's side of a timed send: what to say, or not to send at all."""

    def render(self, item: Claimed, now: datetime) -> Rendered:
        """Render ``item`` for sending at ``now``."""
        ...


@dataclass(slots=True)
class Tally:
    """Outcomes counted since the sender started."""

    sent: int = 0
    skipped: int = 0
    refused: int = 0
    rate_limited: int = 0
    unknown: int = 0
    failed: int = 0

    def add(self, result: Result) -> None:
        """Count one outcome."""
        name = result.value
        setattr(self, name, getattr(self, name) + 1)


class Sender:
    """Sends one platform's due items through its outbox."""

    def __init__(
        self,
        platform: Platform,
        database: Database,
        outbox: Outbox,
        gate: SendGate,
        renderer: Renderer,
        clock: Clock,
        *,
        batch: int | None = None,
        idle_seconds: float = 1.0,
    ) -> None:
        self.platform = platform
        self.tally = Tally()
        self._database = database
        self._outbox = outbox
        self._gate = gate
        self._renderer = renderer
        self._clock = clock
        pace = gate.limits.bulk_per_s
        self._batch = batch or (max(1, int(pace * 2)) if pace else UNPACED_BATCH)
        self._idle = idle_seconds
        self._wake = asyncio.Event()
        self._in_flight = asyncio.Semaphore(IN_FLIGHT)

    def wake(self) -> None:
        """Look at the queue now (the tick queued something, or it is time to stop)."""
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Drain the queue until ``stop`` is set; idle, look again every ``idle_seconds``."""
        while not stop.is_set():
            try:
                claimed = await self.drain_once()
            except Exception as exc:  # the database may be briefly unavailable
                log.error(
                    "%s sender: batch failed (%s); retrying", self.platform, type(exc).__name__
                )
                claimed = 0
            if claimed:
                continue
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._idle):
                    await self._wake.wait()

    async def drain_once(self) -> int:
        """Claim one batch, send it, record the outcomes; return how many were claimed."""
        now = self._clock.now()
        items = await self._database.run(
            lambda connection: claim(connection, self.platform, now, self._batch)
        )
        if not items:
            return 0
        outcomes = await asyncio.gather(*(self._bounded(item, now) for item in items))
        for outcome in outcomes:
            self.tally.add(outcome.result)
        settled_at = self._clock.now()
        await self._database.run(lambda connection: settle(connection, outcomes, settled_at))
        return len(items)

    async def _bounded(self, item: Claimed, now: datetime) -> Outcome:
        async with self._in_flight:
            await asyncio.sleep(0)  # one loop turn renders at most IN_FLIGHT items
            return await self._send(item, now)

    async def _send(self, item: Claimed, now: datetime) -> Outcome:
        rendered = self._renderer.render(item, now)
        reply = rendered.reply
        if reply is None:
            return Outcome(item, Result.SKIPPED, reason=rendered.reason)
        try:
            chat = await self._chat(item)
            await self._gate.bulk(
                priority_of(item.kind),
                f"{chat.chat_id}/{chat.thread_id}",
                group=not chat.is_private,
            )
            await self._outbox.send(chat, reply, nonce=item.nonce)
        except DeliveryRefused:
            return Outcome(item, Result.REFUSED)
        except RateLimited as limited:
            self._gate.hold(limited.retry_after)
            return Outcome(item, Result.RATE_LIMITED, retry_after=limited.retry_after)
        except DeliveryUnknown:
            return Outcome(item, Result.UNKNOWN)
        except Exception as exc:
            # Not a known platform answer: do not resend blindly; the log names the type only.
            log.error("%s sender: %s failed (%s)", self.platform, item.kind, type(exc).__name__)
            return Outcome(item, Result.FAILED, reason=type(exc).__name__[:16])
        return Outcome(item, Result.SENT)

    async def _chat(self, item: Claimed) -> ChatRef:
        if item.chat is not None:
            return item.chat
        if item.profile is None:
            raise DeliveryRefused("no person to send to")
        return await self._outbox.open_private(item.profile.user)
