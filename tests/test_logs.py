from __future__ import annotations

import io
import logging

import pytest

from bots.logs import RedactSecrets, configure_logging
from core.settings import Settings

TOKEN = "777000:AAExampleTokenValue_1234567890"


def test_redaction_covers_arguments_and_plain_messages() -> None:
    record = logging.LogRecord(
        "httpx", logging.INFO, __file__, 1, "POST %s", (f"/bot{TOKEN}/getMe",), None
    )
    assert RedactSecrets([TOKEN]).filter(record)
    assert TOKEN not in record.getMessage() and "<redacted>" in record.getMessage()
    plain = logging.LogRecord("x", logging.INFO, __file__, 1, f"token={TOKEN}", None, None)
    RedactSecrets([TOKEN]).filter(plain)
    assert plain.getMessage() == "token=<redacted>"


def test_configured_logging_never_prints_the_token(monkeypatch: pytest.MonkeyPatch) -> None:
    stream = io.StringIO()
    monkeypatch.setattr("sys.stderr", stream)
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    try:
        settings = Settings(_env_file=None, telegram_bot_token=TOKEN, log_level="DEBUG")  # type: ignore[call-arg]
        configure_logging(settings, quiet=False)
        logging.getLogger("httpx").info("HTTP Request: POST https://api/bot%s/getUpdates", TOKEN)
        logging.getLogger("mend").warning("started with %s", settings.telegram_bot_token)
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
    output = stream.getvalue()
    assert "getUpdates" in output and "started with" in output
    assert TOKEN not in output
