"""Building the Discord adapter from the core and settings: the one place it is wired."""

from __future__ import annotations

from typing import Any

from bots.app import Core
from bots.discord.adapter import ACK_BUDGET, DiscordAdapter
from bots.discord.bot import make_bot
from core.settings import Settings


def build_discord(
    core: Core, settings: Settings, *, ack_budget: float = ACK_BUDGET, **bot_options: Any
) -> DiscordAdapter:
    """The Discord adapter on the given core; tests and other programs build it here too.

    Args:
        core: the service and content to drive.
        settings: the ``DISCORD_*`` settings.
        ack_budget: seconds the core may take before an interaction is deferred.
        bot_options: passed on to the ``commands.Bot`` (tests widen the intents, say).
    """
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
    )
