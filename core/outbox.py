"""The port through which timed work reaches people: one implementation per platform."""

from __future__ import annotations

from typing import Protocol

from core.types import ChatRef, Reply, UserRef


class DeliveryRefused(Exception):  # noqa: N818 - the design names it so
    """The platform refused delivery: the person blocked the bot or closed their DMs."""


class Outbox(Protocol):
    """Sends replies on one platform. Adapters implement it; the core only calls it."""

    async def send(self, chat: ChatRef, reply: Reply) -> None:
        """Deliver ``reply`` to ``chat``.

        Raises:
            DeliveryRefused: when the platform will not deliver to that chat.
        """
        ...

    async def open_private(self, user: UserRef) -> ChatRef:
        """Return the private chat with ``user``, opening it if the platform needs that.

        Raises:
            DeliveryRefused: when the person cannot be reached privately.
        """
        ...
