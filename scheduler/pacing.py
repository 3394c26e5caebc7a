"""Pacing sends below a platform's limits, replies to people first.

One :class:`SendGate` per platform is shared by the adapter (answers to what people just
did) and the scheduler's sender (nudges and timers). Both draw from one overall token
bucket whose waiters are served by priority, so an answer waits for at most one send
already on the wire, never for a queue of nudges. Bulk sends also draw from a slower
bucket (Telegram: about 25/s of the 30/s allowed, leaving room for answers) and respect
per-chat and per-group limits.

The priority bucket is written here because no maintained limiter serves waiters by
priority; per-chat limits use ``aiolimiter``'s leaky bucket as they are.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from aiolimiter import AsyncLimiter

from core.schedule.kinds import Priority

__all__ = [
    "DISCORD_LIMITS",
    "TELEGRAM_LIMITS",
    "UNLIMITED",
    "PlatformLimits",
    "PriorityLimiter",
    "SendGate",
]


class PriorityLimiter:
    """A token bucket of ``rate`` per second whose waiters go lowest priority first.

    Among equal priorities, first come first served. :meth:`hold` stops all grants for a
    while (after the platform said 429).
    """

    def __init__(
        self, rate: float, burst: float = 1.0, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be positive and burst at least 1")
        self._rate = rate
        self._burst = burst
        self._clock = clock
        self._tokens = burst
        self._stamp = clock()
        self._held_until = 0.0
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._order = itertools.count()
        self._timer: asyncio.TimerHandle | None = None

    @property
    def waiting(self) -> int:
        """How many acquirers are waiting."""
        return sum(1 for *_, future in self._waiters if not future.done())

    def _refill(self) -> float:
        now = self._clock()
        # While people wait, a timer that fires late keeps its overshoot, so the pace holds.
        cap = self._burst + 1 if self._waiters else self._burst
        self._tokens = min(cap, self._tokens + (now - self._stamp) * self._rate)
        self._stamp = now
        return now

    async def acquire(self, priority: int) -> None:
        """Wait for a token; lower ``priority`` numbers are served first."""
        now = self._refill()
        if not self._waiters and self._tokens >= 1 and now >= self._held_until:
            self._tokens -= 1
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (priority, next(self._order), future))
        self._arm()
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self._tokens += 1  # granted just as we were cancelled: give it back
            raise

    def hold(self, seconds: float) -> None:
        """Grant nothing for ``seconds`` (the platform asked to wait)."""
        self._held_until = max(self._held_until, self._clock() + seconds)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._arm()

    def _arm(self) -> None:
        if self._timer is not None or not self._waiters:
            return
        now = self._refill()
        delay = max(0.0, (1 - self._tokens) / self._rate, self._held_until - now)
        self._timer = asyncio.get_running_loop().call_later(delay, self._grant)

    def _grant(self) -> None:
        self._timer = None
        now = self._refill()
        while self._waiters and self._tokens >= 1 and now >= self._held_until:
            _, _, future = heapq.heappop(self._waiters)
            if future.done():
                continue  # its waiter was cancelled
            self._tokens -= 1
            future.set_result(None)
        while self._waiters and self._waiters[0][2].done():
            heapq.heappop(self._waiters)
        self._arm()


@dataclass(frozen=True, slots=True)
class PlatformLimits:
    """A platform's sending limits; None means unlimited.

    Attributes:
        overall_per_s: every message, answers included.
        bulk_per_s: scheduled sends (nudges, timers), below ``overall_per_s``.
        chat_per_s: scheduled sends into one chat.
        group_per_min: scheduled sends into one group chat.
    """

    overall_per_s: float | None
    bulk_per_s: float | None
    chat_per_s: float | None = None
    group_per_min: float | None = None


TELEGRAM_LIMITS = PlatformLimits(overall_per_s=30, bulk_per_s=25, chat_per_s=1, group_per_min=20)
"""Telegram: about 30 messages a second overall, 1 a second per chat, 20 a minute per group."""

DISCORD_LIMITS = PlatformLimits(overall_per_s=45, bulk_per_s=10)
"""Discord: 50 requests a second globally. A nudge may need a DM channel opened first,
and opening DMs quickly in bulk looks like spam to Discord, so bulk stays at 10 a second."""

UNLIMITED = PlatformLimits(overall_per_s=None, bulk_per_s=None)
"""No pacing at all (the recording outbox of tests and benchmarks)."""

_MAX_CHAT_LIMITERS = 10_000


class SendGate:
    """Where every send on one platform waits for its turn."""

    def __init__(
        self, limits: PlatformLimits, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limits = limits
        self._overall = (
            PriorityLimiter(limits.overall_per_s, clock=clock) if limits.overall_per_s else None
        )
        self._bulk = PriorityLimiter(limits.bulk_per_s, clock=clock) if limits.bulk_per_s else None
        self._chats: OrderedDict[str, AsyncLimiter] = OrderedDict()

    @contextlib.asynccontextmanager
    async def reply(self) -> AsyncIterator[None]:
        """Wait for a turn to answer someone: ahead of every scheduled send."""
        if self._overall is not None:
            await self._overall.acquire(Priority.REPLY)
        yield

    async def bulk(self, priority: int, chat_key: str, *, group: bool) -> None:
        """Wait for a turn for one scheduled send into the chat ``chat_key``."""
        limiter = self._chat_limiter(chat_key, group=group)
        if limiter is not None:
            await limiter.acquire()
        if self._bulk is not None:
            await self._bulk.acquire(priority)
        if self._overall is not None:
            await self._overall.acquire(priority)

    def hold(self, seconds: float) -> None:
        """Pause scheduled sends for ``seconds`` after a 429 (answers keep their turn)."""
        if self._bulk is not None:
            self._bulk.hold(seconds)

    def _chat_limiter(self, chat_key: str, *, group: bool) -> AsyncLimiter | None:
        per_minute = self.limits.group_per_min if group else None
        per_second = self.limits.chat_per_s
        if per_minute is None and per_second is None:
            return None
        limiter = self._chats.get(chat_key)
        if limiter is None:
            if per_minute is not None:
                limiter = AsyncLimiter(per_minute, 60)
            else:
                assert per_second is not None
                limiter = AsyncLimiter(1, 1 / per_second)
            self._chats[chat_key] = limiter
            if len(self._chats) > _MAX_CHAT_LIMITERS:
                self._chats.popitem(last=False)
        else:
            self._chats.move_to_end(chat_key)
        return limiter
