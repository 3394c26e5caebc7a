"""``mend run``: start every adapter whose token is set, in one event loop."""

from __future__ import annotations

import logging
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bots.app import Core
from core.settings import Settings

log = logging.getLogger(__name__)

AdapterMain = Callable[[Core, Settings], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class AdapterSlot:
    """One platform: the setting that enables it, and its entry point once it exists."""

    platform: str
    token_setting: str
    main: AdapterMain | None


ADAPTERS: tuple[AdapterSlot, ...] = (
    AdapterSlot("Telegram", "TELEGRAM_BOT_TOKEN", None),
    AdapterSlot("Discord", "DISCORD_BOT_TOKEN", None),
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


async def run_adapters(core: Core, settings: Settings) -> int:
    """Run every configured adapter until stopped; return the process exit status."""
    ready = [s for s in configured(settings) if s.main is not None]
    if not ready:
        for line in explain_missing(settings):
            print(line, file=sys.stderr)
        print("Nothing to run. Try Mend in the terminal with: mend chat", file=sys.stderr)
        return 2
    import asyncio

    await asyncio.gather(*(slot.main(core, settings) for slot in ready if slot.main))
    return 0
