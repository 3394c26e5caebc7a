"""The port through which flows ask for something to happen later.

Flows never touch APScheduler or the database directly: the service carries out a flow's
timer requests through this port, inside the turn's transaction, and the scheduler
delivers them when they come due (see ``core.storage.deliveries``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from core.schedule.kinds import ItemKind
from core.types import ChatRef, UserRef

Payload = dict[str, str]
"""What the item needs when it is rendered: identifiers and choices, never free text."""


class Timers(Protocol):
    """One-off timed items: break ends and reminders."""

    def schedule(
        self,
        key: str,
        at: datetime,
        payload: Payload,
        *,
        kind: ItemKind,
        user: UserRef,
        chat: ChatRef | None = None,
    ) -> None:
        """Deliver ``kind`` at ``at`` (UTC), replacing a pending item with the same ``key``.

        ``chat`` None means the person's private chat.
        """
        ...

    def cancel(self, key: str) -> bool:
        """Drop the pending item with ``key``; True if there was one."""
        ...
