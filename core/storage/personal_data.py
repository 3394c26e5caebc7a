"""The personal-data hook every repository that stores rows about people provides.

``/export``, ``/delete`` and the retention purge reach every table only through these
hooks, and a test fails when a table in the schema is not claimed by one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table

from core.crypto import Cipher
from core.types import UserRef

Exported = list[dict[str, Any]]
"""Rows of one export section, as JSON-ready dictionaries."""


@dataclass(frozen=True, slots=True)
class PersonalDataHooks:
    """How one repository exports, deletes and ages out what it stores about a person.

    Attributes:
        section: the name of this part in a person's export.
        tables: every table the repository owns.
        export: the person's rows, decrypted, and nothing about anyone else.
        delete: removes every row about the person; returns how many went.
        purge: removes free text written before the given instant; None when the
            repository keeps no free text.
    """

    section: str
    tables: tuple[Table, ...]
    export: Callable[[Connection, UserRef, Cipher], Exported]
    delete: Callable[[Connection, UserRef], int]
    purge: Callable[[Connection, datetime], int] | None = None


def like_escape(value: str) -> str:
    """Escape ``value`` for a SQL LIKE pattern that uses backslash as the escape."""
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def iso(value: datetime | None) -> str | None:
    """A timestamp as ISO 8601 for an export, or None."""
    return value.isoformat() if value is not None else None
