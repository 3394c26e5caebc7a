"""The outcomes of a person's self-assessments and lens quizzes (never the single answers)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, bindparam, select

from core.storage.repositories import USER_ID, aware, who
from core.storage.tables import quiz_results
from core.types import UserRef

_LATEST = (
    select(quiz_results.c.outcome, quiz_results.c.at)
    .where(quiz_results.c.user_id == USER_ID, quiz_results.c.quiz == bindparam("quiz"))
    .order_by(quiz_results.c.at.desc(), quiz_results.c.id.desc())
    .limit(1)
)


@dataclass(frozen=True, slots=True)
class QuizResult:
    """One finished quiz: which outcome it reached, and when."""

    quiz: str
    outcome: str
    at: datetime


class QuizResultRepository:
    """Records and reads a person's quiz outcomes inside the turn's transaction."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def record(self, user: UserRef, quiz: str, outcome: str, now: datetime) -> None:
        """Keep that ``user`` reached ``outcome`` of ``quiz`` at ``now``."""
        user_id = self._connection.execute(select(USER_ID), who(user)).scalar_one()
        self._connection.execute(
            quiz_results.insert(),
            {"user_id": user_id, "quiz": quiz, "outcome": outcome, "at": now},
        )

    def latest(self, user: UserRef, quiz: str) -> QuizResult | None:
        """The person's most recent outcome of ``quiz``, or None if they never finished it."""
        row = self._connection.execute(_LATEST, {**who(user), "quiz": quiz}).first()
        at = aware(row.at) if row is not None else None
        if row is None or at is None:
            return None
        return QuizResult(quiz, row.outcome, at)
