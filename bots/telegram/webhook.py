"""The webhook endpoint: only requests carrying the right secret token reach the bot."""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable
from json import JSONDecodeError
from urllib.parse import urlsplit

from aiohttp import web

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name
MAX_BODY_BYTES = 1024 * 1024


def webhook_path(url: str) -> str:
    """The path part of the public webhook URL, which is where the server listens."""
    return urlsplit(url).path or "/"


def build_webhook_app(
    path: str, secret: str, accept: Callable[[dict[str, object]], Awaitable[None]]
) -> web.Application:
    """An aiohttp app that passes each authentic update's JSON to ``accept``.

    A request without the right secret is answered 403 and never parsed; the comparison
    takes constant time so the secret cannot be guessed byte by byte.
    """
    expected = secret.encode()

    async def receive(request: web.Request) -> web.Response:
        # surrogateescape: a header with stray bytes is simply wrong, not a server error
        given = request.headers.get(SECRET_HEADER, "").encode("utf-8", "surrogateescape")
        if not hmac.compare_digest(given, expected):
            log.warning("webhook request without the right secret token refused")
            return web.Response(status=403)
        try:
            data = await request.json()
        except (JSONDecodeError, UnicodeDecodeError):
            return web.Response(status=400)
        if not isinstance(data, dict):
            return web.Response(status=400)
        await accept(data)
        return web.Response(status=200)

    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app.router.add_post(path, receive)
    return app
