"""Running the Telegram adapter inside ``mend run``: start, wait for the stop signal, stop."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web
from telegram import Update
from telegram.error import InvalidToken, NetworkError

from bots.app import Core
from bots.errors import AdapterStartError
from bots.telegram.adapter import TelegramAdapter
from bots.telegram.factory import ReadyHook, build_telegram
from bots.telegram.webhook import build_webhook_app, webhook_path
from core.settings import Settings
from scheduler.pacing import TELEGRAM_LIMITS, SendGate

log = logging.getLogger(__name__)

ALLOWED_UPDATES = [Update.MESSAGE, Update.CALLBACK_QUERY, Update.MY_CHAT_MEMBER]


async def start_webhook(adapter: TelegramAdapter, settings: Settings) -> web.AppRunner:
    """Serve the webhook endpoint and tell Telegram about it."""
    url, secret = settings.telegram_webhook_url, settings.telegram_webhook_secret
    if url is None or secret is None:  # settings validation guarantees both
        raise AdapterStartError("TELEGRAM_WEBHOOK_URL needs TELEGRAM_WEBHOOK_SECRET")
    app = adapter.application

    async def accept(data: dict[str, object]) -> None:
        try:
            update = Update.de_json(data, app.bot)
        except (KeyError, TypeError, ValueError):
            log.warning("webhook body was not a Telegram update")
            return
        await app.update_queue.put(update)

    runner = web.AppRunner(build_webhook_app(webhook_path(url), secret.get_secret_value(), accept))
    await runner.setup()
    await web.TCPSite(
        runner, settings.telegram_webhook_listen, settings.telegram_webhook_port
    ).start()
    await app.bot.set_webhook(
        url, secret_token=secret.get_secret_value(), allowed_updates=ALLOWED_UPDATES
    )
    return runner


async def run_telegram(
    core: Core,
    settings: Settings,
    stop: asyncio.Event,
    *,
    on_ready: ReadyHook | None = None,
) -> None:
    """Run Telegram until ``stop`` is set, by polling or by webhook.

    Args:
        core: the service and content to drive.
        settings: the ``TELEGRAM_*`` settings.
        stop: set to stop.
        on_ready: called once, as soon as the bot can send (before updates are fetched),
            with ``Platform.TELEGRAM``, the adapter as the ``Outbox`` and its ``SendGate``:
            the scheduler sends through the one and waits at the other.

    Raises:
        AdapterStartError: the token was refused or the Bot API could not be reached.
    """
    gate = SendGate(TELEGRAM_LIMITS)  # one per platform: answers and nudges share it
    adapter = build_telegram(core, settings, gate=gate)
    app = adapter.application
    try:
        await app.initialize()
    except InvalidToken:
        raise AdapterStartError(
            "TELEGRAM_BOT_TOKEN was refused by Telegram; check the token from @BotFather."
        ) from None
    except NetworkError as exc:
        raise AdapterStartError(
            f"cannot reach the Telegram Bot API at TELEGRAM_API_BASE_URL ({type(exc).__name__})."
        ) from None
    runner: web.AppRunner | None = None
    try:
        await adapter.register_commands()
        await app.start()
        if on_ready is not None:
            on_ready(adapter.platform, adapter, gate)
        if settings.telegram_webhook_url is not None:
            runner = await start_webhook(adapter, settings)
        elif app.updater is not None:
            await app.updater.start_polling(allowed_updates=ALLOWED_UPDATES)
        mode = "webhook" if runner is not None else "polling"
        log.info("Telegram adapter running as @%s (%s)", adapter.bot_username, mode)
        await stop.wait()
    finally:
        if app.updater is not None and app.updater.running:
            await app.updater.stop()
        if runner is not None:
            await runner.cleanup()
        if app.running:
            await app.stop()
        await app.shutdown()
        log.info("Telegram adapter stopped")
