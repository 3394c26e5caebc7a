"""Running the Discord adapter inside ``mend run``: log in, connect, wait for stop, close."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import aiohttp
import discord

from bots.app import Core
from bots.discord.factory import ReadyHook, build_discord
from bots.errors import AdapterStartError
from core.settings import Settings
from scheduler.pacing import DISCORD_LIMITS, SendGate

log = logging.getLogger(__name__)

_CLOSE_CODES = {
    4004: "DISCORD_BOT_TOKEN was refused by the Discord gateway; reset the token in the "
    "Developer Portal.",
    4010: "DISCORD_SHARD_IDS names a shard that does not exist; check DISCORD_SHARD_COUNT.",
    4011: "Discord requires this bot to be sharded now: set DISCORD_SHARD_COUNT (see README).",
    4012: "the Discord gateway refused this discord.py version's API version.",
    4013: "the Discord gateway refused the requested intents.",
}
"""Gateway close codes that mean "do not reconnect", as one operator line each."""

_NEEDS_INTENT = (
    "DISCORD_MESSAGE_CONTENT=true needs the Message Content intent: enable it for the bot "
    "in the Discord Developer Portal, or set DISCORD_MESSAGE_CONTENT=false."
)


async def run_discord(
    core: Core,
    settings: Settings,
    stop: asyncio.Event,
    *,
    on_ready: ReadyHook | None = None,
) -> None:
    """Run Discord until ``stop`` is set.

    Args:
        core: the service and content to drive.
        settings: the ``DISCORD_*`` settings.
        stop: set to stop.
        on_ready: called once, as soon as the bot can send (logged in; sends go over REST,
            so before the gateway connects), with ``Platform.DISCORD``, the adapter as the
            ``Outbox`` and its ``SendGate``: the scheduler sends through the one and waits
            at the other.

    Raises:
        AdapterStartError: the token was refused, Discord could not be reached, or the
            message-content intent was asked for but is not enabled for the bot.
    """
    if settings.discord_bot_token is None:
        raise AdapterStartError("DISCORD_BOT_TOKEN is not set")
    discord.http.Route.BASE = settings.discord_api_base_url  # one process, one Discord
    gate = SendGate(DISCORD_LIMITS)  # one per platform: answers and nudges share it
    adapter = build_discord(core, settings, gate=gate)
    bot = adapter.bot
    try:
        try:
            await bot.login(settings.discord_bot_token.get_secret_value())
        except discord.LoginFailure:
            raise AdapterStartError(
                "DISCORD_BOT_TOKEN was refused by Discord; copy the bot's token from the "
                "Developer Portal (Bot → Reset Token)."
            ) from None
        except (aiohttp.ClientError, OSError, discord.HTTPException) as exc:
            raise AdapterStartError(
                f"cannot reach Discord at DISCORD_API_BASE_URL ({type(exc).__name__})."
            ) from None
        except (KeyError, TypeError, ValueError) as exc:
            raise AdapterStartError(
                f"DISCORD_API_BASE_URL did not answer like Discord ({type(exc).__name__})."
            ) from None
        if settings.discord_message_content:
            log.info("Discord: reading plain messages in server channels (message content on)")
        else:
            log.info(
                "Discord: plain messages in server channels are not read "
                "(DISCORD_MESSAGE_CONTENT is off); slash commands, buttons and DMs do everything"
            )
        if on_ready is not None:
            on_ready(adapter.platform, adapter, gate)
        await _connect_until(bot, stop)
    finally:
        await bot.close()
        log.info("Discord adapter stopped")


def _gateway_problem(error: BaseException, *, ever_connected: bool) -> str:
    """One operator line for a gateway connection that ended for good."""
    if isinstance(error, discord.PrivilegedIntentsRequired):
        return _NEEDS_INTENT
    code = getattr(error, "code", None)
    if isinstance(error, discord.ConnectionClosed) and code in _CLOSE_CODES:
        return _CLOSE_CODES[code]
    if not ever_connected:
        # discord.py 2.7 cannot retry a first connection that failed (it trips over its own
        # missing websocket), so this is where an unreachable gateway ends up.
        return "cannot reach the Discord gateway; check the network and try again."
    detail = f"{type(error).__name__} {code}" if code is not None else type(error).__name__
    return f"the Discord gateway connection failed ({detail})."


async def _connect_until(bot: discord.Client, stop: asyncio.Event) -> None:
    connection = asyncio.create_task(bot.connect(reconnect=True), name="discord-gateway")
    stopping = asyncio.create_task(stop.wait(), name="discord-stop")
    try:
        await asyncio.wait({connection, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if connection.done() and (error := connection.exception()) is not None:
            ever_connected = bot.ws is not None
            raise AdapterStartError(
                _gateway_problem(error, ever_connected=ever_connected)
            ) from None
    finally:
        for task in (connection, stopping):
            task.cancel()
        await bot.close()
        for task in (connection, stopping):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
