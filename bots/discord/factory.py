"""Building the Discord adapter from the core and settings: the one place it is wired."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bots.app import Core
from bots.discord.adapter import ACK_BUDGET, DiscordAdapter
from bots.discord.bot import make_bot
from core.outbox import Outbox
from core.settings import Settings
from core.types import Platform
from scheduler.pacing import DISCORD_LIMITS, SendGate

MAX_RATELIMIT_WAIT = 30.0
"""Seconds discord.py may sleep through one 429 (its minimum); a longer wait is raised as
``discord.RateLimited`` (the adapter's ``RateLimited``) so the scheduler can put the item
back instead of holding a send for minutes."""

ReadyHook = Callable[[Platform, Outbox, SendGate], object]
"""Called once an adapter can send: its platform, its outbox and its send gate.

(Same shape as ``bots.runner.OnReady``; whatever it returns is ignored.)"""


def build_discord(
    core: Core,
    settings: Settings,
    *,
    ack_budget: float = ACK_BUDGET,
    gate: SendGate | None = None,
    **bot_options: Any,
) -> DiscordAdapter:
    """The Discord adapter on the given core; tests and other programs build it here too.

    Args:
        core: the service and content to drive.
        settings: the ``DISCORD_*`` settings.
        ack_budget: seconds the core may take before an interaction is deferred.
        gate: the send gate to share; default: a new one at Discord's limits.
        bot_options: passed on to the ``commands.Bot`` (tests widen the intents, say).
    """
    bot_options.setdefault("max_ratelimit_timeout", MAX_RATELIMIT_WAIT)
    bot = make_bot(
        message_content=settings.discord_message_content,
        shard_count=settings.discord_shard_count,
        shard_ids=settings.shard_ids,
        **bot_options,
    )
    return DiscordAdapter(
        bot,
        core.service,
        core.content,
        read_plain_text=settings.discord_message_content,
        dev_guild_id=settings.discord_dev_guild_id,
        ack_budget=ack_budget,
        gate=gate or SendGate(DISCORD_LIMITS),
    )
