"""Export, deletion and retention for tables whose rows each belong to one person.

The repair programme's tables (the action log, promises, moments, weekly reflections,
builder notes and quiz outcomes) all point to ``users`` through ``user_id`` and keep any
free text in columns marked ``info=ENCRYPTED``, so one hook shape serves them all.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, Connection, Table, delete, select

from core.crypto import Cipher
from core.storage.personal_data import Exported, PersonalDataHooks, iso
from core.storage.repositories import USER_ID, aware, who
from core.types import UserRef

__all__ = ["person_rows_hooks"]


def _value(column: Column[Any], value: Any, cipher: Cipher) -> Any:
    if value is None:
        return None
    if column.info.get("encrypted"):
        return cipher.open(value)
    if isinstance(value, datetime):
        return iso(aware(value))
    return value


def person_rows_hooks(section: str, table: Table, written_at: str) -> PersonalDataHooks:
    """Hooks for one table of a person's rows.

    Every column but the ids is exported (free text decrypted), the rows go with the
    person, and rows whose ``written_at`` is older than the cutoff are purged.

    Args:
        section: the name of the part in a person's export.
        table: a table with ``id`` and ``user_id`` columns.
        written_at: the timestamp column that dates a row for the retention purge.
    """
    shown = [c for c in table.columns if c.name not in ("id", "user_id")]
    mine = table.c.user_id == USER_ID

    def export(connection: Connection, user: UserRef, cipher: Cipher) -> Exported:
        rows = connection.execute(select(*shown).where(mine).order_by(table.c.id), who(user))
        return [
            {c.name: _value(c, value, cipher) for c, value in zip(shown, row, strict=True)}
            for row in rows
        ]

    def remove(connection: Connection, user: UserRef) -> int:
        return connection.execute(delete(table).where(mine), who(user)).rowcount

    def purge(connection: Connection, before: datetime) -> int:
        return connection.execute(delete(table).where(table.c[written_at] < before)).rowcount

    return PersonalDataHooks(
        section=section, tables=(table,), export=export, delete=remove, purge=purge
    )
