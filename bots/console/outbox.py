"""The console's outbox: what the scheduler sends is printed in the chat it is for."""

from __future__ import annotations

from bots.console.chat import ConsoleChat
from core.types import ChatRef, Reply, UserRef


class ConsoleOutbox:
    """Implements ``core.outbox.Outbox`` by printing through a :class:`ConsoleChat`."""

    def __init__(self, console: ConsoleChat) -> None:
        self._console = console

    async def send(self, chat: ChatRef, reply: Reply, *, nonce: str | None = None) -> None:
        """Print ``reply`` as arriving in ``chat``."""
        self._console.deliver(chat, reply)

    async def open_private(self, user: UserRef) -> ChatRef:
        """The console's private chat with ``user``."""
        return self._console.private_chat(user)
