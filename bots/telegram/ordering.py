"""Concurrent update processing that keeps each chat's updates in order."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

from core.service.locks import KeyedLocks


class ChatOrderedUpdateProcessor(BaseUpdateProcessor):
    """Runs updates from different chats at once, and updates from one chat one by one.

    Without this, a quick "Berlin" followed by a tap could be handled in the wrong order.
    """

    def __init__(self, max_concurrent_updates: int) -> None:
        super().__init__(max_concurrent_updates)
        self._locks = KeyedLocks()

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Wait for earlier updates of the same chat, then process this one."""
        chat = update.effective_chat if isinstance(update, Update) else None
        async with self._locks.hold(str(chat.id) if chat is not None else "-"):
            await coroutine

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to release."""
