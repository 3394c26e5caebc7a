"""Time as an injected dependency, so tests never sleep."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Tells the current time."""

    def now(self) -> datetime:
        """Return the current time, timezone-aware, in UTC."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        """Return the current UTC time."""
        return datetime.now(UTC)


class ShiftedClock:
    """The real clock moved forward on request: the console's ``/wait`` lets time pass.

    ``start`` sets where time begins (a reproducible demo); it then runs on from there.
    """

    def __init__(self, start: datetime | None = None) -> None:
        self._offset = start - datetime.now(UTC) if start is not None else timedelta()

    def now(self) -> datetime:
        """Return the current UTC time plus every advance so far."""
        return datetime.now(UTC) + self._offset

    def advance(self, by: timedelta) -> None:
        """Move time forward by ``by`` (never backward)."""
        if by > timedelta():
            self._offset += by
