"""Answers kept between the steps of a programme builder (``/apology``), encrypted.

A builder names its notes with a prefix (``apology.what``, ``apology.hurt``, …), keeps each
answer as it is typed, reads them all back when it assembles its result, and then clears
them: nothing stays once the builder is done. Export, deletion and the retention purge
reach the table through the generic hooks in ``core.privacy.data``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, bindparam, delete, select

from core.crypto import Cipher
from core.storage.personal_data import like_escape
from core.storage.repositories import USER_ID, who
from core.storage.tables import program_notes as notes_table
from core.types import UserRef

__all__ = ["ProgramNotes", "forget_stale"]

_MINE = notes_table.c.user_id == USER_ID
_UNDER = notes_table.c.note.like(bindparam("prefix"), escape="\\")
_NOTES = select(notes_table.c.note, notes_table.c.text).where(_MINE, _UNDER)
_DELETE_NOTE = delete(notes_table).where(_MINE, notes_table.c.note == bindparam("note"))
_DELETE_UNDER = delete(notes_table).where(_MINE, _UNDER)


def _prefix(prefix: str) -> str:
    return f"{like_escape(prefix)}%"


class ProgramNotes:
    """One transaction's access to people's builder notes; text passes through the cipher."""

    def __init__(self, connection: Connection, cipher: Cipher) -> None:
        self._connection = connection
        self._cipher = cipher

    def save(self, user: UserRef, note: str, text: str, now: datetime) -> None:
        """Keep ``text`` as the person's answer for ``note``, replacing an earlier one."""
        self._connection.execute(_DELETE_NOTE, {**who(user), "note": note})
        user_id = self._connection.execute(select(USER_ID), who(user)).scalar_one()
        self._connection.execute(
            notes_table.insert(),
            {"user_id": user_id, "note": note, "text": self._cipher.seal(text), "at": now},
        )

    def get_all(self, user: UserRef, prefix: str) -> dict[str, str]:
        """The person's notes whose names start with ``prefix``, decrypted, by note name."""
        rows = self._connection.execute(_NOTES, {**who(user), "prefix": _prefix(prefix)})
        return {row.note: self._cipher.open(row.text) for row in rows}

    def clear(self, user: UserRef, prefix: str) -> int:
        """Delete the person's notes whose names start with ``prefix``; how many went."""
        result = self._connection.execute(_DELETE_UNDER, {**who(user), "prefix": _prefix(prefix)})
        return result.rowcount


def forget_stale(connection: Connection, before: datetime) -> int:
    """Delete everyone's builder notes written before ``before``; how many went.

    A builder left half-way (``/cancel``, or simply walking away) leaves answers behind
    until the person starts it again; this clears them for good, for a daily job with a
    short cutoff (a day is plenty: no builder takes longer to finish).
    """
    return connection.execute(delete(notes_table).where(notes_table.c.at < before)).rowcount
