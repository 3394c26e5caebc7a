"""Building the Telegram adapter from the core and settings: the one place it is wired."""

from __future__ import annotations

import logging
from collections.abc import Callable

from telegram.error import RetryAfter
from telegram.ext import AIORateLimiter, Application
from telegram.request import BaseRequest
from tenacity.wait import wait_base

from bots.app import Core
from bots.telegram.adapter import TelegramAdapter, TelegramApp
from bots.telegram.mapping import file_url
from bots.telegram.ordering import ChatOrderedUpdateProcessor
from core.outbox import Outbox
from core.settings import Settings
from core.types import Platform
from scheduler.pacing import TELEGRAM_LIMITS, SendGate

MAX_CONCURRENT_UPDATES = 64
RATE_LIMIT_RETRIES = 0
"""Retries of a 429 inside PTB's limiter: none. The adapter decides (see its docstring)."""

ReadyHook = Callable[[Platform, Outbox, SendGate], object]
"""Called once an adapter can send: its platform, its outbox and its send gate.

(Same shape as ``bots.runner.OnReady``; whatever it returns is ignored.)"""


class _RetryAfterSurfaced(logging.Filter):
    """Drops the limiter's error record for a 429 it did not retry: the adapter handles it.

    With ``max_retries=0`` PTB's ``AIORateLimiter`` logs every 429 as an exception with a
    stack trace ("Rate limit hit after maximum of 0 retries") before re-raising it.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Keep every record but that one."""
        error = record.exc_info[1] if record.exc_info else None
        return not isinstance(error, RetryAfter)


_LIMITER_LOG = logging.getLogger("telegram.ext.AIORateLimiter")
_SURFACED = _RetryAfterSurfaced()


def build_rate_limiter() -> AIORateLimiter:
    """PTB's limiter pacing every request (30/s, 20/min per group) but never retrying a 429.

    Its retries would hide the 429 from the scheduler and hold every other request while it
    sleeps. Note ``rate_limit_args=0`` cannot switch them off per call (PTB reads ``0`` as
    "use the default"), so the limiter is built with ``max_retries=0``.
    """
    if _SURFACED not in _LIMITER_LOG.filters:
        _LIMITER_LOG.addFilter(_SURFACED)
    return AIORateLimiter(max_retries=RATE_LIMIT_RETRIES)


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
        .rate_limiter(build_rate_limiter())
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
    gate: SendGate | None = None,
) -> TelegramAdapter:
    """The Telegram adapter on the given core; tests and other programs build it here too.

    Args:
        core: the service and content to drive.
        settings: the ``TELEGRAM_*`` settings.
        request: a request object to use instead of HTTP (tests pass a recording one).
        polling: whether to build the polling ``Updater``; default: unless a webhook is set.
        retry_wait: backoff between retries of a failed network call.
        gate: the send gate to share; default: a new one at Telegram's limits.
    """
    application = build_application(settings, request=request, polling=polling)
    return TelegramAdapter(
        application,
        core.service,
        core.content,
        gate=gate or SendGate(TELEGRAM_LIMITS),
        retry_wait=retry_wait,
    )
