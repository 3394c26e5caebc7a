from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from telegram import Update

from bots.app import Core
from bots.telegram import TelegramAdapter, build_telegram
from core.content import Content
from core.service import CoachService
from core.settings import Settings
from core.storage import Database
from tests import telegram_fakes as tg
from tests.fakes import FakeClock


@pytest.fixture
async def telegram(
    content: Content, sqlite_db: Database, clock: FakeClock
) -> AsyncIterator[tuple[TelegramAdapter, tg.RecordingRequest]]:
    service = CoachService(content, sqlite_db, clock, default_timezone="UTC")
    core = Core(service=service, content=content, database=sqlite_db)
    settings = Settings(_env_file=None, telegram_bot_token=tg.TOKEN)  # type: ignore[call-arg]
    request = tg.RecordingRequest()
    adapter = build_telegram(core, settings, request=request, polling=False)
    await adapter.application.initialize()
    yield adapter, request
    await adapter.application.shutdown()


async def feed(adapter: TelegramAdapter, data: dict[str, object]) -> None:
    await adapter.application.process_update(Update.de_json(data, adapter.application.bot))


async def test_private_start_and_a_press(
    telegram: tuple[TelegramAdapter, tg.RecordingRequest],
) -> None:
    adapter, request = telegram
    sam = tg.user(42)
    await feed(adapter, tg.message_update(sam, tg.private_chat(42), "/start"))
    first = request.sent()[-1]
    assert "AI coach" in first["text"]
    payload = first["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    await feed(adapter, tg.press_update(sam, tg.private_chat(42), payload))
    assert [c.method for c in request.calls][-3:] == [
        "answerCallbackQuery",
        "editMessageReplyMarkup",
        "sendMessage",
    ]
    assert "keep what you tell me" in request.sent()[-1]["text"]
