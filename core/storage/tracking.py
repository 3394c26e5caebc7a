"""Promises, moments and weekly reflections: one person's rows, free text encrypted.

Export, deletion and retention of these tables are handled generically
(``core.storage.person_rows``); this module only reads and writes them for the desks.
A reflection in progress keeps its answers in ``program_notes`` under ``journal.*``
(``core.storage.program_notes``) until it is saved, and they are removed then.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, bindparam, delete, func, select, update

from core.crypto import Cipher
from core.program.plan import Outcome
from core.program.tracking import APPRECIATION, HURT
from core.storage.repositories import USER_ID, aware, who
from core.storage.tables import action_log, journal_entries, moments, promises
from core.types import UserRef

__all__ = [
    "DONE",
    "JournalEntry",
    "JournalRepository",
    "MomentRepository",
    "Promise",
    "PromiseRepository",
    "done_step_days",
]

DONE = Outcome.DONE.value
"""The ``action_log.outcome`` of a daily step marked done."""


def _user_id(connection: Connection, user: UserRef) -> int:
    return int(connection.execute(select(USER_ID), who(user)).scalar_one())


# --------------------------------------------------------------------------- promises


@dataclass(frozen=True, slots=True)
class Promise:
    """One day's small promise.

    Attributes:
        local_date: the person's local date it is for (``YYYY-MM-DD``).
        text: the promise, decrypted.
        kept: True or False once answered, None before.
    """

    local_date: str
    text: str
    kept: bool | None


_MINE = promises.c.user_id == USER_ID
_ON_DAY = (_MINE, promises.c.local_date == bindparam("day"))


class PromiseRepository:
    """A person's promises, one per local date."""

    def __init__(self, connection: Connection, cipher: Cipher) -> None:
        self._connection = connection
        self._cipher = cipher

    def save(self, user: UserRef, local_date: str, text: str, now: datetime) -> bool:
        """Keep ``text`` as the promise for ``local_date``; True if it replaced one.

        A replaced promise starts afresh: not answered yet.
        """
        sealed = self._cipher.seal(text)
        replaced = self._connection.execute(
            update(promises)
            .where(*_ON_DAY)
            .values(text=sealed, kept=None, made_at=now, answered_at=None),
            {**who(user), "day": local_date},
        ).rowcount
        if replaced:
            return True
        self._connection.execute(
            promises.insert(),
            {
                "user_id": _user_id(self._connection, user),
                "local_date": local_date,
                "text": sealed,
                "kept": None,
                "made_at": now,
                "answered_at": None,
            },
        )
        return False

    def get(self, user: UserRef, local_date: str) -> Promise | None:
        """The promise for ``local_date``, or None."""
        row = self._connection.execute(
            select(promises.c.local_date, promises.c.text, promises.c.kept).where(*_ON_DAY),
            {**who(user), "day": local_date},
        ).first()
        if row is None:
            return None
        return Promise(row.local_date, self._cipher.open(row.text), row.kept)

    def answer(self, user: UserRef, local_date: str, kept: bool, now: datetime) -> bool:
        """Record whether the promise of ``local_date`` was kept; False if there is none."""
        result = self._connection.execute(
            update(promises).where(*_ON_DAY).values(kept=kept, answered_at=now),
            {**who(user), "day": local_date},
        )
        return bool(result.rowcount)

    def answers(self, user: UserRef, limit: int) -> list[bool]:
        """The newest ``limit`` answers (kept or not), newest promise first."""
        rows = self._connection.execute(
            select(promises.c.kept)
            .where(_MINE, promises.c.kept.is_not(None))
            .order_by(promises.c.local_date.desc())
            .limit(limit),
            who(user),
        )
        return [bool(row.kept) for row in rows]

    def kept_count(self, user: UserRef) -> int:
        """How many promises the person ever answered as kept."""
        return int(
            self._connection.execute(
                select(func.count()).where(_MINE, promises.c.kept.is_(True)), who(user)
            ).scalar_one()
        )

    def since(self, user: UserRef, first_day: str) -> list[tuple[str, bool | None]]:
        """``(local date, kept)`` of every promise from ``first_day`` on, oldest first."""
        rows = self._connection.execute(
            select(promises.c.local_date, promises.c.kept)
            .where(_MINE, promises.c.local_date >= first_day)
            .order_by(promises.c.local_date),
            who(user),
        )
        return [(row.local_date, row.kept) for row in rows]


# --------------------------------------------------------------------------- moments


_MY_MOMENTS = moments.c.user_id == USER_ID


class MomentRepository:
    """A person's logged moments: appreciations and hurtful moments."""

    def __init__(self, connection: Connection, cipher: Cipher) -> None:
        self._connection = connection
        self._cipher = cipher

    def add(
        self, user: UserRef, kind: str, local_date: str, text: str | None, now: datetime
    ) -> None:
        """Log one moment of ``kind`` (its words encrypted; a hurt may have none)."""
        if kind not in (APPRECIATION, HURT):
            raise ValueError(f"unknown moment kind {kind!r}")
        self._connection.execute(
            moments.insert(),
            {
                "user_id": _user_id(self._connection, user),
                "kind": kind,
                "local_date": local_date,
                "text": self._cipher.seal(text) if text is not None else None,
                "at": now,
            },
        )

    def since(self, user: UserRef, first_day: str) -> list[tuple[str, str]]:
        """``(kind, local date)`` of every moment from ``first_day`` on, oldest first."""
        rows = self._connection.execute(
            select(moments.c.kind, moments.c.local_date)
            .where(_MY_MOMENTS, moments.c.local_date >= first_day)
            .order_by(moments.c.local_date, moments.c.id),
            who(user),
        )
        return [(row.kind, row.local_date) for row in rows]

    def count(self, user: UserRef, kind: str) -> int:
        """How many moments of ``kind`` the person ever logged."""
        return int(
            self._connection.execute(
                select(func.count()).where(_MY_MOMENTS, moments.c.kind == kind), who(user)
            ).scalar_one()
        )

    def wordless_hurt_since(self, user: UserRef, since: datetime) -> bool:
        """True if a hurt without words was logged at or after ``since`` (a double tap)."""
        found = self._connection.execute(
            select(moments.c.id)
            .where(
                _MY_MOMENTS,
                moments.c.kind == HURT,
                moments.c.text.is_(None),
                moments.c.at >= since,
            )
            .limit(1),
            who(user),
        ).first()
        return found is not None


# --------------------------------------------------------------------------- reflections


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """One week's reflection.

    Attributes:
        week: the ISO week (``2026-W10``).
        score: 1 to 10.
        win: what went well, or None if skipped.
        challenge: what was hard, or None.
        next_step: one step for the coming week, or None.
        at: when it was saved.
    """

    week: str
    score: int
    win: str | None
    challenge: str | None
    next_step: str | None
    at: datetime | None


_MY_ENTRIES = journal_entries.c.user_id == USER_ID


class JournalRepository:
    """A person's weekly reflections, one per ISO week."""

    def __init__(self, connection: Connection, cipher: Cipher) -> None:
        self._connection = connection
        self._cipher = cipher

    def _seal(self, text: str | None) -> str | None:
        return self._cipher.seal(text) if text is not None else None

    def _open(self, stored: str | None) -> str | None:
        return self._cipher.open(stored) if stored is not None else None

    def save(self, user: UserRef, entry: JournalEntry, now: datetime) -> bool:
        """Keep ``entry`` for its week, replacing an earlier one; True if it replaced one."""
        removed = self._connection.execute(
            delete(journal_entries).where(_MY_ENTRIES, journal_entries.c.week == bindparam("week")),
            {**who(user), "week": entry.week},
        ).rowcount
        self._connection.execute(
            journal_entries.insert(),
            {
                "user_id": _user_id(self._connection, user),
                "week": entry.week,
                "score": entry.score,
                "win": self._seal(entry.win),
                "challenge": self._seal(entry.challenge),
                "next_step": self._seal(entry.next_step),
                "at": now,
            },
        )
        return bool(removed)

    def get(self, user: UserRef, week: str) -> JournalEntry | None:
        """The reflection of ``week``, decrypted, or None."""
        row = self._connection.execute(
            select(journal_entries).where(_MY_ENTRIES, journal_entries.c.week == bindparam("week")),
            {**who(user), "week": week},
        ).first()
        if row is None:
            return None
        return JournalEntry(
            week=row.week,
            score=int(row.score),
            win=self._open(row.win),
            challenge=self._open(row.challenge),
            next_step=self._open(row.next_step),
            at=aware(row.at),
        )

    def scores(self, user: UserRef) -> dict[str, int]:
        """Every stored week's score, by week."""
        rows = self._connection.execute(
            select(journal_entries.c.week, journal_entries.c.score).where(_MY_ENTRIES),
            who(user),
        )
        return {row.week: int(row.score) for row in rows}

    def previous_score(self, user: UserRef, week: str) -> int | None:
        """The score of the newest reflection before ``week``, or None."""
        value = self._connection.execute(
            select(journal_entries.c.score)
            .where(_MY_ENTRIES, journal_entries.c.week < bindparam("week"))
            .order_by(journal_entries.c.week.desc())
            .limit(1),
            {**who(user), "week": week},
        ).scalar()
        return int(value) if value is not None else None


# --------------------------------------------------------------------------- daily steps


def done_step_days(connection: Connection, user: UserRef, first_day: str) -> list[str]:
    """Local dates from ``first_day`` on with a daily step marked done (each day once)."""
    rows = connection.execute(
        select(action_log.c.local_date)
        .where(
            action_log.c.user_id == USER_ID,
            action_log.c.outcome == DONE,
            action_log.c.local_date >= first_day,
        )
        .distinct()
        .order_by(action_log.c.local_date),
        who(user),
    )
    return [row.local_date for row in rows]
