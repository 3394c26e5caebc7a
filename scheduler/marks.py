"""The ``sending`` marks of one batch, committed together just before the platform calls.

A claimed row is marked ``sending`` only when its send is about to start, so a crash
leaves ``sending`` (perhaps sent, see ``core.storage.deliveries.recover_stale``) only the
sends that were under way, not the whole batch. Each worker asks for its mark after its
turn at the send gate; every ask that arrives while a commit is under way joins the next
one (a group commit). Unpaced, the workers ask at once and share one commit; paced, the
gate lets them through one by one and each send gets its own small commit.
"""

from __future__ import annotations

import asyncio
from functools import partial

from core.storage import Database
from core.storage.deliveries import Claimed, mark_sending

__all__ = ["MarkFailed", "SendingMarks"]


class MarkFailed(Exception):  # noqa: N818 - a condition, not a bug
    """The mark could not be committed (the database failed); nothing was sent."""


class SendingMarks:
    """Commits ``sending`` marks for the workers of one batch, in groups."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self._asks: dict[int, tuple[Claimed, asyncio.Future[bool]]] = {}
        self._committing: asyncio.Task[None] | None = None

    async def mark(self, item: Claimed) -> bool:
        """Mark ``item`` ``sending``; False if it is no longer this sender's to send.

        Raises:
            MarkFailed: the database did not take the mark.
        """
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._asks[item.id] = (item, future)
        if self._committing is None:
            self._committing = asyncio.create_task(self._commit())
        return await future

    async def _commit(self) -> None:
        try:
            while self._asks:
                asks, self._asks = self._asks, {}
                items = [item for item, _ in asks.values()]
                try:
                    ours = await self._database.run(partial(mark_sending, items=items))
                except Exception as exc:
                    for _, future in asks.values():
                        if not future.done():
                            future.set_exception(MarkFailed(type(exc).__name__))
                    continue
                for row_id, (_, future) in asks.items():
                    if not future.done():
                        future.set_result(row_id in ours)
        finally:
            self._committing = None
