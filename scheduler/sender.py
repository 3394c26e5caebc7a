"""The sender: drains one platform's send queue from the database, paced, by priority.

It claims a batch of due rows (``core.storage.deliveries.claim``: by priority, then due
time; on PostgreSQL skipping rows another process holds), renders each through the core,
waits its turn at the platform's :class:`~scheduler.pacing.SendGate`, marks it
``sending`` (:mod:`scheduler.marks`; unpaced, the batch is marked as it is claimed),
sends, and records every outcome in one commit (in :meth:`Sender.drain`, the commit that
claims the next batch). The backlog stays in the database; only one batch is ever in
memory. A batch is sized to about two seconds of sending at the platform's pace; with a
pace, a crash leaves only the sends under way in doubt, not the batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Protocol

from sqlalchemy import Connection

from core.clock import Clock
from core.outbox import (
    DeliveryRefused,
    DeliveryUnknown,
    Outbox,
    PlatformUnavailable,
    RateLimited,
)
from core.schedule.kinds import priority_of
from core.storage import Database
from core.storage.deliveries import Claimed, Outcome, Result, claim, settle
from core.types import ChatRef, Platform, Reply
from scheduler.marks import MarkFailed, SendingMarks
from scheduler.pacing import SendGate

__all__ = ["Rendered", "Renderer", "Sender"]

log = logging.getLogger(__name__)

UNPACED_BATCH = 100
"""Rows per batch when the platform sets no pace (the recording outbox): small enough that
a person's answer never waits long behind a batch on SQLite's single writer thread."""
IN_FLIGHT = 32
"""Sends awaiting the platform at once: enough to fill the pace despite network latency."""
SLICE_SECONDS = 0.002
"""Longest the sender renders and sends without handing the event loop back."""
MARK_RETRY_SECONDS = 5.0
"""When a ``sending`` mark could not be committed, the row is queued again this much later."""
OUTAGE_SECONDS = 30.0
"""When the platform cannot be reached (the adapter has already retried), scheduled sends
pause this long and the item is queued again: an outage costs time, not messages (a
nudge past its grace window by then is skipped, never sent late)."""


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
    retry: int = 0
    unknown: int = 0
    failed: int = 0
    reclaimed: int = 0

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
        # Paced, a batch takes seconds to send: each send is marked just before it goes,
        # so a crash leaves in doubt only the sends under way. Unpaced, the whole batch
        # goes within milliseconds of its claim: it is marked as it is claimed, and
        # marking each send would only add commits (and, on SQLite, contention between the
        # loop and the database thread, measured at nearly twice the time per nudge).
        self._mark_each = bool(pace)
        self._idle_seconds = idle_seconds
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._go = asyncio.Event()
        self._go.set()
        self._emptied = False

    @property
    def batch(self) -> int:
        """Rows claimed per batch."""
        return self._batch

    def wake(self) -> None:
        """Look at the queue now (the tick queued something, or it is time to stop)."""
        self._idle.clear()
        self._wake.set()

    def hold(self) -> None:
        """Claim nothing more until :meth:`release` (the batch in hand is still sent).

        The tick holds the senders while it queues on SQLite; see ``Scheduler.tick``.
        """
        self._go.clear()

    def release(self) -> None:
        """Undo :meth:`hold` and look at the queue at once."""
        self._go.set()
        self.wake()

    async def idle(self) -> None:
        """Return once :meth:`run` has found the queue empty since the last :meth:`wake`.

        After the tick that queued a burst has returned (its last batch woke the sender),
        this returns when every item it queued has been sent and settled.
        """
        await self._idle.wait()

    async def run(self, stop: asyncio.Event) -> None:
        """Drain the queue until ``stop`` is set; idle, look again every ``idle_seconds``.

        A wake that comes while a drain is under way is kept, and the sender looks again
        at once rather than after ``idle_seconds``.
        """
        try:
            while not stop.is_set():
                self._wake.clear()
                try:
                    claimed = await self.drain(stop)
                except Exception as exc:  # the database may be briefly unavailable
                    log.error(
                        "%s sender: batch failed (%s); retrying",
                        self.platform,
                        type(exc).__name__,
                    )
                    claimed = 0
                else:
                    if not self._wake.is_set():
                        self._idle.set()
                if claimed and not self._emptied:
                    continue
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._idle_seconds):
                        await self._wake.wait()
        finally:
            self._idle.set()  # nothing more will be sent: no one waits for it in vain

    async def drain_once(self) -> int:
        """Claim one batch, send it, record the outcomes; return how many were claimed."""
        now = self._clock.now()
        items = await self._claim(now)
        if not items:
            return 0
        await self._settle(await self._send_all(items, now))
        return len(items)

    async def drain(self, stop: asyncio.Event | None = None) -> int:
        """Send batch after batch until the queue is empty (or ``stop``); return how many.

        A batch's outcomes are settled in the same transaction that claims the next batch:
        one trip to the database and one commit per batch instead of two. Every send is
        still committed ``sending`` before it goes (with its batch when unpaced, on its
        own when paced), and settled only after.
        While the sender is held (see :meth:`hold`) it finishes the batch in hand and
        settles it with the next claim once released.
        """
        self._emptied = False
        total = 0
        now = self._clock.now()
        await self._go.wait()
        items = await self._claim(now)
        while items:
            total += len(items)
            outcomes = await self._send_all(items, now)
            for outcome in outcomes:
                self.tally.add(outcome.result)
            settled_at = now = self._clock.now()
            if stop is not None and stop.is_set():
                await self._database.run(partial(settle, outcomes=outcomes, now=settled_at))
                return total
            await self._go.wait()
            items = await self._database.run(
                partial(self._settle_and_claim, outcomes=outcomes, now=settled_at)
            )
        self._emptied = True
        return total

    def _settle_and_claim(
        self, connection: Connection, outcomes: list[Outcome], now: datetime
    ) -> list[Claimed]:
        settle(connection, outcomes, now)
        return self._claim_in(connection, now)

    def _claim_in(self, connection: Connection, now: datetime) -> list[Claimed]:
        return claim(connection, self.platform, now, self._batch, sending=not self._mark_each)

    async def _claim(self, now: datetime) -> list[Claimed]:
        return await self._database.run(lambda connection: self._claim_in(connection, now))

    async def _settle(self, outcomes: list[Outcome]) -> None:
        for outcome in outcomes:
            self.tally.add(outcome.result)
        settled_at = self._clock.now()
        await self._database.run(lambda connection: settle(connection, outcomes, settled_at))

    async def _send_all(self, items: list[Claimed], now: datetime) -> list[Outcome]:
        """Render and send ``items``, up to ``IN_FLIGHT`` awaiting the platform at once.

        ``IN_FLIGHT`` workers share one iterator instead of a task per item. A send that
        does not wait (the recording outbox) keeps its worker going, so the loop is handed
        back every ``SLICE_SECONDS`` rather than after every item.
        """
        outcomes: list[Outcome] = []
        pending = iter(items)
        turn = [time.perf_counter()]
        marks = SendingMarks(self._database) if self._mark_each else None

        async def worker() -> None:
            for item in pending:
                outcomes.append(await self._send(item, now, marks))
                if time.perf_counter() - turn[0] > SLICE_SECONDS:
                    await asyncio.sleep(0)
                    turn[0] = time.perf_counter()

        workers = min(IN_FLIGHT, len(items))
        if workers == 1:
            await worker()
        else:
            await asyncio.gather(*(worker() for _ in range(workers)))
        return outcomes

    async def _send(self, item: Claimed, now: datetime, marks: SendingMarks | None) -> Outcome:
        try:
            rendered = self._renderer.render(item, now)
        except Exception as exc:  # a bug for this one item: the rest of the batch goes on
            log.error(
                "%s sender: rendering %s failed (%s)", self.platform, item.kind, type(exc).__name__
            )
            return Outcome(item, Result.FAILED, reason=type(exc).__name__[:16])
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
            if marks is not None and not await marks.mark(item):
                return Outcome(item, Result.RECLAIMED)
            await self._outbox.send(chat, reply, nonce=item.nonce)
        except MarkFailed:
            return Outcome(item, Result.RETRY, retry_after=MARK_RETRY_SECONDS)
        except DeliveryRefused:
            return Outcome(item, Result.REFUSED)
        except RateLimited as limited:
            self._gate.hold(limited.retry_after)
            return Outcome(item, Result.RATE_LIMITED, retry_after=limited.retry_after)
        except DeliveryUnknown:
            return Outcome(item, Result.UNKNOWN)
        except PlatformUnavailable as down:
            log.warning("%s sender: platform unreachable (%s); pausing", self.platform, down)
            self._gate.hold(OUTAGE_SECONDS)
            return Outcome(item, Result.RETRY, retry_after=OUTAGE_SECONDS)
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
