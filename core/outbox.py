"""The port through which timed work reaches people: one implementation per platform."""

from __future__ import annotations

from typing import Protocol

from core.types import ChatRef, Reply, UserRef


class DeliveryRefused(Exception):  # noqa: N818 - the design names it so
    """The platform refused delivery: the person blocked the bot or closed their DMs."""


class RateLimited(Exception):  # noqa: N818 - a condition, not a bug
    """The platform asked Mend to slow down (HTTP 429); nothing was sent.

    Attributes:
        retry_after: seconds to wait before the next try.
    """

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"retry after {retry_after:g} s")
        self.retry_after = retry_after


class DeliveryUnknown(Exception):  # noqa: N818 - a condition, not a bug
    """The send failed in a way that leaves unknown whether the message went out."""


class PlatformUnavailable(Exception):  # noqa: N818 - a condition, not a bug
    """The platform could not be reached (after the adapter's own retries); nothing was sent."""


class Outbox(Protocol):
    """Sends replies on one platform. Adapters implement it; the core only calls it."""

    async def send(self, chat: ChatRef, reply: Reply, *, nonce: str | None = None) -> None:
        """Deliver ``reply`` to ``chat``.

        ``nonce`` identifies one delivery: a platform that supports it (Discord) drops a
        retried send with the same nonce instead of showing it twice.

        Raises:
            DeliveryRefused: when the platform will not deliver to that chat.
            RateLimited: when the platform asked to wait; nothing was sent.
            DeliveryUnknown: when it is unknown whether the message went out.
            PlatformUnavailable: when the platform could not be reached; nothing was sent.
        """
        ...

    async def open_private(self, user: UserRef) -> ChatRef:
        """Return the private chat with ``user``, opening it if the platform needs that.

        Raises:
            DeliveryRefused: when the person cannot be reached privately.
            PlatformUnavailable: when the platform could not be reached.
        """
        ...
