"""Building the Telegram adapter from the core and settings: the one place it is wired."""

from __future__ import annotations

from telegram.ext import AIORateLimiter, Application
from telegram.request import BaseRequest
from tenacity.wait import wait_base

from bots.app import Core
from bots.telegram.adapter import TelegramAdapter, TelegramApp
from bots.telegram.mapping import file_url
from bots.telegram.ordering import ChatOrderedUpdateProcessor
from core.settings import Settings

MAX_CONCURRENT_UPDATES = 64
RATE_LIMIT_RETRIES = 3


def build_application(
    settings: Settings, *, request: BaseRequest | None = None, polling: bool | None = None
) -> TelegramApp:
    """The PTB ``Application``: base URL from settings, rate limiter on, chats kept in order.

    Args:
        settings: must carry ``TELEGRAM_BOT_TOKEN``.
        request: a request object to use instead of HTTP (tests pass a recording one).
        polling: whether to build the polling ``Updater``; default: unless a webhook is set.
    """
    if settings.telegram_bot_token is None:
        raise ValueError("TELEGRAM_BOT_TOKEN is not set")
    builder = (
        Application.builder()
        .token(settings.telegram_bot_token.get_secret_value())
        .base_url(settings.telegram_api_base_url)
        .base_file_url(file_url(settings.telegram_api_base_url))
        .rate_limiter(AIORateLimiter(max_retries=RATE_LIMIT_RETRIES))
        .concurrent_updates(ChatOrderedUpdateProcessor(MAX_CONCURRENT_UPDATES))
    )
    if request is not None:
        builder = builder.request(request).get_updates_request(request)
    if not (polling if polling is not None else settings.telegram_webhook_url is None):
        builder = builder.updater(None)
    return builder.build()


def build_telegram(
    core: Core,
    settings: Settings,
    *,
    request: BaseRequest | None = None,
    polling: bool | None = None,
    retry_wait: wait_base | None = None,
) -> TelegramAdapter:
    """The Telegram adapter on the given core; tests and other programs build it here too."""
    application = build_application(settings, request=request, polling=polling)
    return TelegramAdapter(application, core.service, core.content, retry_wait=retry_wait)
