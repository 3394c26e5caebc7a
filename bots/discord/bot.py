"""Mend's ``commands.Bot``: resources injected at construction, events handed to the adapter.

As in discord.py's ``examples/advanced_startup.py``, what the bot needs is passed to its
constructor and used in ``setup_hook``; nothing is looked up from globals.
"""

from __future__ import annotations

from typing import Any, Protocol

import discord
from discord.ext import commands


class BotHooks(Protocol):
    """What the bot hands its events to: the Discord adapter."""

    async def setup(self) -> None:
        """Install commands and buttons, then publish the commands."""
        ...

    async def on_message(self, message: discord.Message) -> None:
        """Handle one message."""
        ...

    async def on_guild_join(self, guild: discord.Guild) -> None:
        """Handle the bot being added to a server."""
        ...


class _MendEvents:
    """Event methods shared by the plain and the sharded bot."""

    mend: BotHooks | None = None

    async def setup_hook(self) -> None:
        """Runs once at login, before the gateway connects."""
        if self.mend is not None:
            await self.mend.setup()

    async def on_message(self, message: discord.Message, /) -> None:
        """Every message goes to the adapter; Mend has no prefix commands."""
        if self.mend is not None:
            await self.mend.on_message(message)

    async def on_guild_join(self, guild: discord.Guild) -> None:
        """Mend was added to a server."""
        if self.mend is not None:
            await self.mend.on_guild_join(guild)


class MendBot(_MendEvents, commands.Bot):
    """One process, one gateway connection (up to about 2,500 servers)."""


class ShardedMendBot(_MendEvents, commands.AutoShardedBot):
    """Several shards in one process; several processes can each run some of them."""


def intents(*, message_content: bool) -> discord.Intents:
    """Guilds, messages and DMs; the privileged message-content intent only if asked for."""
    wanted = discord.Intents.default()
    wanted.message_content = message_content
    wanted.members = False
    wanted.presences = False
    return wanted


def _no_voice_warnings() -> None:
    """Mend is text-only: discord.py's start-up warnings about voice libraries are noise."""
    discord.VoiceClient.warn_nacl = False
    discord.VoiceClient.warn_dave = False


def make_bot(
    *,
    message_content: bool,
    shard_count: int | None = None,
    shard_ids: tuple[int, ...] = (),
    **options: Any,
) -> MendBot | ShardedMendBot:
    """The bot for this process: sharded when a shard count is configured."""
    _no_voice_warnings()
    common: dict[str, Any] = {
        "command_prefix": commands.when_mentioned,
        "help_command": None,
        "intents": intents(message_content=message_content),
        "allowed_mentions": discord.AllowedMentions.none(),
        **options,
    }
    if shard_count is None:
        return MendBot(**common)
    if shard_ids:
        common["shard_ids"] = list(shard_ids)
    return ShardedMendBot(shard_count=shard_count, **common)
