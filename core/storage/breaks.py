"""Timed breaks (``/pause``): start, ready, extend, end, and how often someone called one.

The ``ready`` column holds the member ids of who has said they are ready, comma-separated,
and the mark ``s`` once the caller has put their name on the break (it survives more time,
so a break is signed at most once).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, case, delete, func, literal, select, update

from core.couples import Break
from core.crypto import Cipher
from core.storage.personal_data import Exported, PersonalDataHooks, iso
from core.storage.repositories import USER_ID, aware, who
from core.storage.tables import breaks, couple_members, couples
from core.types import UserRef

SIGNED_MARK = "s"
"""The mark in ``breaks.ready`` that the caller has signed the break (never a member id)."""
_SEP = ","
_CODEWORD_OF = (
    select(couples.c.codeword)
    .select_from(couples.join(couple_members, couple_members.c.couple_id == couples.c.id))
    .where(couple_members.c.user_id == USER_ID)
)
"""The code word of the couple of the person bound by ``who``: read for every typed text,
so built once."""


def _padded(column: Any) -> Any:
    """``,<column>,``: so a whole entry can be found with ``contains(",entry,")``."""
    return literal(_SEP) + column + literal(_SEP)


def _holds(mark: str) -> Any:
    """True where the stored break's ``ready`` list holds ``mark`` as a whole entry."""
    return _padded(breaks.c.ready).contains(f"{_SEP}{mark}{_SEP}", autoescape=True)


def _break(row: Row[*tuple[Any, ...]]) -> Break:
    started, ends = aware(row.started_at), aware(row.ends_at)
    assert started is not None and ends is not None
    ready = frozenset(int(part) for part in (row.ready or "").split(_SEP) if part.isdigit())
    return Break(
        id=row.id,
        couple_id=row.couple_id,
        caller_id=row.caller_id,
        started_at=started,
        ends_at=ends,
        ended_at=aware(row.ended_at),
        ready=ready,
        timer_seq=row.timer_seq,
        long_rule=bool(row.long_rule),
    )


class BreakRepository:
    """Breaks on one transaction."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def start(
        self,
        couple_id: int | None,
        caller_id: int,
        now: datetime,
        ends_at: datetime,
        *,
        long_rule: bool = False,
    ) -> Break:
        """Record a new break; any open one of the same couple (or solo caller) is closed."""
        self._connection.execute(
            update(breaks).where(*self._open_of(couple_id, caller_id)).values(ended_at=now)
        )
        break_id = self._connection.execute(
            breaks.insert()
            .values(
                couple_id=couple_id,
                caller_id=caller_id,
                started_at=now,
                ends_at=ends_at,
                ready="",
                timer_seq=0,
                long_rule=long_rule,
            )
            .returning(breaks.c.id)
        ).scalar_one()
        return Break(
            id=int(break_id),
            couple_id=couple_id,
            caller_id=caller_id,
            started_at=now,
            ends_at=ends_at,
            long_rule=long_rule,
        )

    def get(self, break_id: int) -> Break | None:
        """The break with ``break_id``, or None."""
        row = self._connection.execute(select(breaks).where(breaks.c.id == break_id)).first()
        return _break(row) if row is not None else None

    def current(self, couple_id: int | None, caller_id: int) -> Break | None:
        """The open break of the couple, or of the person alone when ``couple_id`` is None."""
        row = self._connection.execute(
            select(breaks)
            .where(*self._open_of(couple_id, caller_id))
            .order_by(breaks.c.id.desc())
            .limit(1)
        ).first()
        return _break(row) if row is not None else None

    def hold(self, couple_id: int) -> None:
        """Lock the couple's row until the transaction ends, before reading its break.

        Two partners calling a break at the same moment then take turns: the second sees
        the first one's break (and adds time to it) instead of starting another. SQLite
        ignores ``FOR UPDATE``; it has one writer at a time anyway.
        """
        self._connection.execute(
            select(couples.c.id).where(couples.c.id == couple_id).with_for_update()
        )

    def calls_since(self, caller_id: int, since: datetime) -> int:
        """How many breaks ``caller_id`` called after ``since``."""
        value = self._connection.execute(
            select(func.count())
            .select_from(breaks)
            .where(breaks.c.caller_id == caller_id, breaks.c.started_at > since)
        ).scalar_one()
        return int(value)

    def mark_ready(self, break_id: int, member_id: int) -> frozenset[int]:
        """Add ``member_id`` to who is ready, in one statement, and return who is ready now.

        Two partners pressing "ready" at the same moment both count: the update adds to
        the stored list as it is when it runs, never to a copy read earlier.
        """
        self._add_mark(str(member_id), breaks.c.id == break_id, breaks.c.ended_at.is_(None))
        found = self.get(break_id)
        return found.ready if found is not None else frozenset()

    def sign(self, break_id: int, now: datetime) -> bool:
        """Mark the break signed by its caller; False if it already was, or is not running.

        One statement, so two presses at once still sign it only once.
        """
        return self._add_mark(
            SIGNED_MARK,
            breaks.c.id == break_id,
            breaks.c.ended_at.is_(None),
            breaks.c.ends_at > now,
        )

    def set_ready(self, break_id: int, ready: frozenset[int]) -> None:
        """Store who has said they are ready (the signed mark stays as it is)."""
        text = _SEP.join(str(member) for member in sorted(ready))
        self._connection.execute(
            update(breaks).where(breaks.c.id == break_id).values(ready=self._keep_signed(text))
        )

    def extend(self, break_id: int, ends_at: datetime, *, long_rule: bool = False) -> Break:
        """Move the return time; readiness starts over (a signature stays), a new timer number."""
        self._connection.execute(
            update(breaks)
            .where(breaks.c.id == break_id)
            .values(
                ends_at=ends_at,
                ready=self._keep_signed(""),
                timer_seq=breaks.c.timer_seq + 1,
                long_rule=breaks.c.long_rule | long_rule,
            )
        )
        found = self.get(break_id)
        assert found is not None
        return found

    def end(self, break_id: int, now: datetime) -> bool:
        """Close the break; False if it was already closed (someone else got there first)."""
        result = self._connection.execute(
            update(breaks)
            .where(breaks.c.id == break_id, breaks.c.ended_at.is_(None))
            .values(ended_at=now)
        )
        return bool(result.rowcount)

    def codeword_of(self, user: UserRef) -> str | None:
        """The confirmed code word of ``user``'s couple, or None (one query, for every text)."""
        value = self._connection.execute(_CODEWORD_OF, who(user)).scalar()
        return str(value) if value else None

    def _add_mark(self, mark: str, *where: Any) -> bool:
        """Append ``mark`` to ``ready`` where it is not there yet; True if a row changed."""
        result = self._connection.execute(
            update(breaks)
            .where(*where, ~_holds(mark))
            .values(
                ready=case(
                    (breaks.c.ready == "", literal(mark)),
                    else_=breaks.c.ready + literal(_SEP + mark),
                )
            )
        )
        return bool(result.rowcount)

    @staticmethod
    def _keep_signed(text: str) -> Any:
        """``text`` for the ``ready`` column, with the signed mark kept if it is there."""
        with_mark = _SEP.join(part for part in (text, SIGNED_MARK) if part)
        return case((_holds(SIGNED_MARK), literal(with_mark)), else_=literal(text))

    @staticmethod
    def _open_of(couple_id: int | None, caller_id: int) -> tuple[Any, ...]:
        if couple_id is None:
            return (
                breaks.c.couple_id.is_(None),
                breaks.c.caller_id == caller_id,
                breaks.c.ended_at.is_(None),
            )
        return (breaks.c.couple_id == couple_id, breaks.c.ended_at.is_(None))


_MINE = select(breaks).where(breaks.c.caller_id == USER_ID).order_by(breaks.c.id)


def _export(connection: Connection, user: UserRef, cipher: Cipher) -> Exported:
    return [
        {
            "break_called_at": iso(row.started_at),
            "return_time": iso(row.ends_at),
            "ended_at": iso(row.ended_at),
            "with_partner": row.couple_id is not None,
        }
        for row in connection.execute(_MINE, who(user))
    ]


def _delete(connection: Connection, user: UserRef) -> int:
    result = connection.execute(delete(breaks).where(breaks.c.caller_id == USER_ID), who(user))
    return int(result.rowcount)


HOOKS = PersonalDataHooks(section="breaks", tables=(breaks,), export=_export, delete=_delete)
"""Breaks a person called, in export and deletion; no free text is kept."""
