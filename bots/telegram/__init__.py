"""The Telegram adapter on python-telegram-bot 22: mapping, delivery, webhook, lifecycle."""

from bots.telegram.adapter import TelegramAdapter
from bots.telegram.factory import build_application, build_telegram

__all__ = ["TelegramAdapter", "build_application", "build_telegram"]
