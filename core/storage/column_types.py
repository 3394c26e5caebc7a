"""Column types Mend stores its own way: instants in UTC, the same on every database."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Dialect, TypeDecorator

__all__ = ["UtcDateTime"]

_STORED_LENGTH = len("2026-01-01 00:00:00.000000")


def _to_sqlite(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        return value.isoformat(" ", "microseconds")
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return value.isoformat(" ", "microseconds")[:_STORED_LENGTH]  # without "+00:00"


def _from_sqlite(value: str | None) -> datetime | None:
    if value is None:
        return None
    return datetime.fromisoformat(value + "+00:00")  # an eighth of .replace(tzinfo=UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """An instant, always returned timezone-aware in UTC.

    On PostgreSQL it is ``TIMESTAMP WITH TIME ZONE`` as it comes. On SQLite, which has no
    date type, it keeps the text SQLAlchemy's ``DateTime`` writes there
    (``YYYY-MM-DD HH:MM:SS.ffffff``, UTC), so stored rows, indexes and comparisons in SQL
    are unchanged, but converts with the C ``isoformat``/``fromisoformat`` instead of
    SQLAlchemy's per-field formatting: a bulk insert binds three instants a row. Aware
    values are converted to UTC first (SQLAlchemy's own type would store their local wall
    clock); naive values are taken as UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    @property
    def python_type(self) -> type[datetime]:
        """Values are ``datetime`` (as for ``DateTime``, which a decorator does not tell)."""
        return datetime

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        """SQLite: the UTC text; elsewhere the driver's own handling."""
        if dialect.name == "sqlite":
            return _to_sqlite
        return super().bind_processor(dialect)

    def result_processor(self, dialect: Dialect, coltype: object) -> Callable[[Any], Any] | None:
        """SQLite: an aware UTC datetime from the stored text; elsewhere as the driver gives."""
        if dialect.name == "sqlite":
            return _from_sqlite
        return super().result_processor(dialect, coltype)
