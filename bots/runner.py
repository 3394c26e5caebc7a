"""``mend run``: the scheduler and every adapter whose token is set, in one event loop.

Each adapter hands its outbox and send gate to the scheduler once it can send, so nudges
and timers share the pacing of the answers people are waiting for. ``mend run --record``
runs the scheduler alone with a recording outbox (a dry run, and the crash tests).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from bots.app import Core, settle_heap
from bots.errors import AdapterStartError
from core.clock import SystemClock
from core.outbox import Outbox
from core.settings import Settings
from core.types import Platform
from scheduler.clockwork import Scheduler
from scheduler.pacing import UNLIMITED, PlatformLimits, SendGate
from scheduler.recording import RecordingOutbox

log = logging.getLogger(__name__)

OnReady = Callable[[Platform, Outbox, SendGate], object]
"""Called by an adapter once it can send: its platform, its outbox, its send gate."""
AdapterMain = Callable[[Core, Settings, asyncio.Event, OnReady], Awaitable[None]]


async def _telegram(core: Core, settings: Settings, stop: asyncio.Event, ready: OnReady) -> None:
    from bots.telegram.run import run_telegram  # imported only when Telegram is configured

    await run_telegram(core, settings, stop, on_ready=ready)


async def _discord(core: Core, settings: Settings, stop: asyncio.Event, ready: OnReady) -> None:
    from bots.discord.run import run_discord  # imported only when Discord is configured

    await run_discord(core, settings, stop, on_ready=ready)


@dataclass(frozen=True, slots=True)
class AdapterSlot:
    """One platform: the setting that enables it, and its entry point once it exists."""

    platform: str
    token_setting: str
    main: AdapterMain | None


ADAPTERS: tuple[AdapterSlot, ...] = (
    AdapterSlot("Telegram", "TELEGRAM_BOT_TOKEN", _telegram),
    AdapterSlot("Discord", "DISCORD_BOT_TOKEN", _discord),
)
"""Platforms in start order; an adapter fills in ``main`` when it lands."""


def configured(settings: Settings) -> list[AdapterSlot]:
    """The platforms whose token is set."""
    return [s for s in ADAPTERS if getattr(settings, s.token_setting.lower()) is not None]


def explain_missing(settings: Settings) -> list[str]:
    """Operator lines saying why ``mend run`` cannot start a platform."""
    lines: list[str] = []
    for slot in ADAPTERS:
        has_token = getattr(settings, slot.token_setting.lower()) is not None
        if not has_token:
            lines.append(f"{slot.platform}: {slot.token_setting} is not set.")
        elif slot.main is None:
            lines.append(
                f"{slot.platform}: token found, but this version has no adapter for it yet."
            )
    return lines


def _on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)


def build_scheduler(core: Core, settings: Settings) -> Scheduler:
    """The scheduler on the core's database, rendering through the core's nudges."""
    return Scheduler(
        core.database,
        core.nudges,
        SystemClock(),
        retention_days=settings.mend_retention_days,
        tick_seconds=settings.mend_tick_seconds,
    )


async def run_recording(
    core: Core,
    settings: Settings,
    path: Path,
    *,
    pace: float | None = None,
    stop: asyncio.Event | None = None,
) -> int:
    """Run the scheduler alone, recording every send to ``path`` (one JSON line each).

    ``pace`` limits scheduled sends to that many a second, like a platform would.
    """
    stop = stop or asyncio.Event()
    _on_signals(stop)
    outbox = RecordingOutbox(path)
    limits = PlatformLimits(overall_per_s=None, bulk_per_s=pace) if pace else UNLIMITED
    scheduler = build_scheduler(core, settings)
    settle_heap()
    for platform in Platform:
        scheduler.attach(platform, outbox, SendGate(limits))
    await scheduler.start()
    print(f"mend: scheduler running, recording sends to {path}", file=sys.stderr, flush=True)
    try:
        await stop.wait()
    finally:
        await scheduler.stop()
        outbox.close()
    return 0


async def run_adapters(core: Core, settings: Settings, stop: asyncio.Event | None = None) -> int:
    """Run the scheduler and every configured adapter until SIGINT/SIGTERM (or ``stop``).

    Returns the exit status.
    """
    ready = [s for s in configured(settings) if s.main is not None]
    for line in explain_missing(settings):
        print(line, file=sys.stderr)
    if not ready:
        print("Nothing to run. Try Mend in the terminal with: mend chat", file=sys.stderr)
        return 2
    stop = stop or asyncio.Event()
    _on_signals(stop)
    scheduler = build_scheduler(core, settings)
    settle_heap()
    await scheduler.start()

    def attach(platform: Platform, outbox: Outbox, gate: SendGate) -> None:
        scheduler.attach(platform, outbox, gate)

    async def one(slot: AdapterSlot) -> None:
        assert slot.main is not None
        try:
            await slot.main(core, settings, stop, attach)
        finally:
            stop.set()  # one adapter ending (or failing) stops the others cleanly

    async def scheduler_first() -> None:
        await stop.wait()
        await scheduler.stop()  # finish the batch on the wire while adapters still send

    stopper = asyncio.create_task(scheduler_first())
    try:
        results = await asyncio.gather(*(one(slot) for slot in ready), return_exceptions=True)
    finally:
        stop.set()
        await stopper
    failures = [r for r in results if isinstance(r, BaseException)]
    for failure in failures:
        if not isinstance(failure, AdapterStartError):
            raise failure
        print(f"mend: {failure}", file=sys.stderr)
    return 2 if failures else 0
