"""What a person did with their daily steps (``action_log``), and what phases read.

Rows hold a local date, a step id and an outcome (done, skipped, swapped, or Mend's
suggestion to move on, see :class:`core.program.plan.Outcome`); no free text. Export,
deletion and the retention purge reach the table through ``core.privacy.data``.
:func:`journal_scores` reads the weekly reflections, which the suggestion to move on to
the next phase also listens to.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Connection, bindparam, func, select

from core.program.plan import Logged, Outcome
from core.storage.repositories import USER_ID, who
from core.storage.tables import action_log, journal_entries
from core.types import UserRef

__all__ = ["ActionLogRepository", "journal_scores"]

_MINE = action_log.c.user_id == USER_ID
_EXISTS = select(action_log.c.id).where(
    _MINE,
    action_log.c.local_date == bindparam("local_date"),
    action_log.c.action == bindparam("action"),
    action_log.c.outcome == bindparam("outcome"),
)
_SINCE = (
    select(action_log.c.local_date, action_log.c.action, action_log.c.outcome)
    .where(_MINE, action_log.c.local_date >= bindparam("first"))
    .order_by(action_log.c.local_date, action_log.c.id)
)
_LAST = select(func.max(action_log.c.local_date)).where(
    _MINE, action_log.c.outcome == bindparam("outcome")
)
_DONE_DAYS = select(func.count(func.distinct(action_log.c.local_date))).where(
    _MINE,
    action_log.c.outcome == Outcome.DONE.value,
    action_log.c.local_date >= bindparam("first"),
)
_SCORES = (
    select(journal_entries.c.score)
    .where(journal_entries.c.user_id == USER_ID, journal_entries.c.at >= bindparam("since"))
    .order_by(journal_entries.c.week.desc())
    .limit(bindparam("limit"))
)


def _day(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


class ActionLogRepository:
    """Reads and writes one person's daily-step outcomes, in the turn's transaction."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def record(
        self, user: UserRef, day: date, action: str, outcome: Outcome, now: datetime
    ) -> bool:
        """Note ``outcome`` for ``action`` on the local ``day``; False if already noted.

        A double tap on the same button records once.
        """
        values = {**who(user), "local_date": day.isoformat(), "action": action}
        if self._connection.execute(_EXISTS, {**values, "outcome": outcome.value}).first():
            return False
        user_id = self._connection.execute(select(USER_ID), who(user)).scalar_one()
        self._connection.execute(
            action_log.insert(),
            {
                "user_id": user_id,
                "local_date": values["local_date"],
                "action": action,
                "outcome": outcome.value,
                "at": now,
            },
        )
        return True

    def since(self, user: UserRef, first: date) -> list[Logged]:
        """Every outcome from the local day ``first`` on, oldest first."""
        rows = self._connection.execute(_SINCE, {**who(user), "first": first.isoformat()})
        found: list[Logged] = []
        for row in rows:
            day = _day(row.local_date)
            try:
                outcome = Outcome(row.outcome)
            except ValueError:
                continue
            if day is not None:
                found.append(Logged(day.toordinal(), row.action, outcome))
        return found

    def last(self, user: UserRef, outcome: Outcome) -> date | None:
        """The latest local day with ``outcome``, or None."""
        text = self._connection.execute(
            _LAST, {**who(user), "outcome": outcome.value}
        ).scalar_one_or_none()
        return _day(text) if text else None

    def done_days(self, user: UserRef, first: date) -> int:
        """On how many distinct local days from ``first`` on a step was marked done."""
        count = self._connection.execute(
            _DONE_DAYS, {**who(user), "first": first.isoformat()}
        ).scalar_one()
        return int(count or 0)


def journal_scores(
    connection: Connection, user: UserRef, since: datetime, limit: int = 2
) -> tuple[int, ...]:
    """A person's latest weekly reflection scores written since ``since``, newest first."""
    rows = connection.execute(_SCORES, {**who(user), "since": since, "limit": limit})
    return tuple(int(row.score) for row in rows)
