"""``mend run``: start every adapter whose token is set, in one event loop, until a signal."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bots.app import Core
from bots.errors import AdapterStartError
from core.settings import Settings

log = logging.getLogger(__name__)

AdapterMain = Callable[[Core, Settings, asyncio.Event], Awaitable[None]]


async def _telegram(core: Core, settings: Settings, stop: asyncio.Event) -> None:
    from bots.telegram.run import run_telegram  # imported only when Telegram is configured

    await run_telegram(core, settings, stop)


async def _discord(core: Core, settings: Settings, stop: asyncio.Event) -> None:
    from bots.discord.run import run_discord  # imported only when Discord is configured

    await run_discord(core, settings, stop)


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


async def run_adapters(core: Core, settings: Settings, stop: asyncio.Event | None = None) -> int:
    """Run every configured adapter until SIGINT/SIGTERM (or ``stop``); return the exit status."""
    ready = [s for s in configured(settings) if s.main is not None]
    for line in explain_missing(settings):
        print(line, file=sys.stderr)
    if not ready:
        print("Nothing to run. Try Mend in the terminal with: mend chat", file=sys.stderr)
        return 2
    stop = stop or asyncio.Event()
    _on_signals(stop)

    async def one(slot: AdapterSlot) -> None:
        assert slot.main is not None
        try:
            await slot.main(core, settings, stop)
        finally:
            stop.set()  # one adapter ending (or failing) stops the others cleanly

    results = await asyncio.gather(*(one(slot) for slot in ready), return_exceptions=True)
    failures = [r for r in results if isinstance(r, BaseException)]
    for failure in failures:
        if not isinstance(failure, AdapterStartError):
            raise failure
        print(f"mend: {failure}", file=sys.stderr)
    return 2 if failures else 0
