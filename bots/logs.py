"""Logging set-up: never a token in a log line, whatever a library prints."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable

from core.settings import Settings

NOISY = (
    "httpx",
    "httpcore",
    "aiohttp.access",
    "alembic.runtime.migration",
    "apscheduler",
)
"""Libraries whose INFO lines would repeat request URLs (with the bot token) or chatter."""


class RedactSecrets(logging.Filter):
    """Replaces every configured secret in a record's rendered message with ``<redacted>``."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self._secrets = sorted({s for s in secrets if len(s) >= 6}, key=len, reverse=True)

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact in place and keep the record."""
        if not self._secrets:
            return True
        message = record.getMessage()
        redacted = message
        for secret in self._secrets:
            redacted = redacted.replace(secret, "<redacted>")
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def secrets_of(settings: Settings) -> list[str]:
    """Every secret value in the settings."""
    values = [
        settings.telegram_bot_token,
        settings.discord_bot_token,
        settings.telegram_webhook_secret,
        settings.mend_encryption_keys,
    ]
    found = [v.get_secret_value() for v in values if v is not None]
    if settings.mend_encryption_keys is not None:
        found += [k.strip() for k in settings.mend_encryption_keys.get_secret_value().split(",")]
    return found


def configure_logging(settings: Settings, *, quiet: bool) -> None:
    """Log to stderr at the configured level (WARNING for the console chat), secrets redacted."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactSecrets(secrets_of(settings)))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING if quiet else settings.log_level)
    if settings.log_level != "DEBUG":
        for name in NOISY:
            logging.getLogger(name).setLevel(logging.WARNING)
