"""Ritual rounds: the rounds themselves, each partner's answers (encrypted), who finished.

Also where the couple's weekly check-in reminder (a ``subscriptions`` row of kind
``weekly``) is pointed at their group when they link one.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, bindparam, delete, select, update

from core.crypto import Cipher
from core.rituals import Answer, RitualKind, Round
from core.schedule.kinds import ItemKind
from core.storage.personal_data import Exported, PersonalDataHooks, iso
from core.storage.repositories import USER_ID, aware, insert_ignoring_conflicts, who
from core.storage.tables import ritual_answers, ritual_turns, rituals, subscriptions
from core.types import ChatRef, UserRef

_ANSWER = (ritual_answers.c.ritual_id == bindparam("round_id")) & (
    ritual_answers.c.user_id == bindparam("member_id")
)


def _round(row: Row[*tuple[Any, ...]]) -> Round:
    opened = aware(row.opened_at)
    assert opened is not None
    return Round(
        id=row.id,
        couple_id=row.couple_id,
        kind=RitualKind(row.kind),
        opened_at=opened,
        closed_at=aware(row.closed_at),
    )


class RitualRepository:
    """Ritual rounds on one transaction; answers go in and out through the cipher."""

    def __init__(self, connection: Connection, cipher: Cipher) -> None:
        self._connection = connection
        self._cipher = cipher

    # ------------------------------------------------------------------ rounds

    def open_round(self, couple_id: int, kind: RitualKind) -> Round | None:
        """The couple's open round of ``kind`` (the newest, if several), or None."""
        row = self._connection.execute(
            select(rituals)
            .where(
                rituals.c.couple_id == couple_id,
                rituals.c.kind == kind.value,
                rituals.c.closed_at.is_(None),
            )
            .order_by(rituals.c.id.desc())
            .limit(1)
        ).first()
        return _round(row) if row is not None else None

    def get(self, round_id: int) -> Round | None:
        """The round with ``round_id``, or None if it is gone."""
        row = self._connection.execute(select(rituals).where(rituals.c.id == round_id)).first()
        return _round(row) if row is not None else None

    def start(self, couple_id: int, kind: RitualKind, now: datetime) -> Round:
        """Open a new round of ``kind`` for the couple."""
        round_id = self._connection.execute(
            rituals.insert()
            .values(couple_id=couple_id, kind=kind.value, opened_at=now, closed_at=None)
            .returning(rituals.c.id)
        ).scalar_one()
        return Round(int(round_id), couple_id, kind, now)

    def close(self, round_id: int, now: datetime) -> bool:
        """Close an open round; False if it was already closed (so only one closer wins)."""
        result = self._connection.execute(
            update(rituals)
            .where(rituals.c.id == round_id, rituals.c.closed_at.is_(None))
            .values(closed_at=now)
        )
        return bool(result.rowcount)

    # ------------------------------------------------------------------ answers

    def save_answer(
        self, round_id: int, member_id: int, item: str, text: str, now: datetime
    ) -> None:
        """Keep ``text`` as the partner's answer to ``item``, replacing an earlier one.

        A replaced answer starts unshared again: a choice to share covers the words it
        was made about, not new ones.
        """
        key = {"round_id": round_id, "member_id": member_id}
        self._connection.execute(
            delete(ritual_answers).where(_ANSWER, ritual_answers.c.item == item), key
        )
        self._connection.execute(
            ritual_answers.insert(),
            {
                "ritual_id": round_id,
                "user_id": member_id,
                "item": item,
                "text": self._cipher.seal(text),
                "shared": False,
                "created_at": now,
            },
        )

    def share(self, round_id: int, member_id: int, item: str | None = None) -> int:
        """Mark one answer (or, with ``item`` None, every answer) of the partner shared."""
        statement = update(ritual_answers).where(_ANSWER)
        if item is not None:
            statement = statement.where(ritual_answers.c.item == item)
        result = self._connection.execute(
            statement.values(shared=True), {"round_id": round_id, "member_id": member_id}
        )
        return int(result.rowcount)

    def answered(self, round_id: int, member_id: int) -> list[str]:
        """The items the partner has answered so far (nothing of what they wrote)."""
        return list(
            self._connection.execute(
                select(ritual_answers.c.item).where(_ANSWER).order_by(ritual_answers.c.id),
                {"round_id": round_id, "member_id": member_id},
            ).scalars()
        )

    def shared_answers(self, round_id: int) -> list[Answer]:
        """Every answer of the round its writer chose to share, decrypted.

        Unshared answers are not even read: only what may be shown leaves the database.
        """
        rows = self._connection.execute(
            select(ritual_answers.c.user_id, ritual_answers.c.item, ritual_answers.c.text)
            .where(ritual_answers.c.ritual_id == round_id, ritual_answers.c.shared.is_(True))
            .order_by(ritual_answers.c.id)
        )
        return [Answer(r.user_id, r.item, self._cipher.open(r.text), True) for r in rows]

    # ------------------------------------------------------------------ turns

    def finish(self, round_id: int, member_id: int, now: datetime) -> None:
        """Record that the partner has finished their part (once; a repeat changes nothing)."""
        insert = insert_ignoring_conflicts(ritual_turns)[self._connection.dialect.name]
        self._connection.execute(
            insert, {"ritual_id": round_id, "user_id": member_id, "finished_at": now}
        )

    def finished(self, round_id: int) -> frozenset[int]:
        """The ``users.id`` of partners who have finished their part of the round."""
        return frozenset(
            int(value)
            for value in self._connection.execute(
                select(ritual_turns.c.user_id).where(ritual_turns.c.ritual_id == round_id)
            ).scalars()
        )


def open_rounds(connection: Connection, couple_id: int) -> list[int]:
    """The ids of every open round of the couple, of any ritual (no answers are read)."""
    return [
        int(value)
        for value in connection.execute(
            select(rituals.c.id).where(
                rituals.c.couple_id == couple_id, rituals.c.closed_at.is_(None)
            )
        ).scalars()
    ]


def move_weekly_chat(connection: Connection, member_ids: Sequence[int], chat: ChatRef) -> int:
    """Point the weekly check-in reminder of any of ``member_ids`` at ``chat``.

    Only where it is sent changes: its day, time and next due instant stay as they were.
    Returns how many reminders moved (0 or 1: a couple has one at most).
    """
    result = connection.execute(
        update(subscriptions)
        .where(
            subscriptions.c.user_id.in_(list(member_ids)),
            subscriptions.c.kind == ItemKind.WEEKLY.value,
        )
        .values(chat_id=chat.chat_id, chat_kind=chat.kind.value, thread_id=chat.thread_id)
    )
    return int(result.rowcount)


def _export(connection: Connection, user: UserRef, cipher: Cipher) -> Exported:
    answers = connection.execute(
        select(
            rituals.c.kind,
            rituals.c.opened_at,
            ritual_answers.c.item,
            ritual_answers.c.text,
            ritual_answers.c.shared,
            ritual_answers.c.created_at,
        )
        .select_from(ritual_answers.join(rituals, rituals.c.id == ritual_answers.c.ritual_id))
        .where(ritual_answers.c.user_id == USER_ID)
        .order_by(ritual_answers.c.id),
        who(user),
    )
    rows: Exported = [
        {
            "ritual": r.kind,
            "round_opened_at": iso(aware(r.opened_at)),
            "item": r.item,
            "text": cipher.open(r.text),
            "shared": bool(r.shared),
            "written_at": iso(aware(r.created_at)),
        }
        for r in answers
    ]
    turns = connection.execute(
        select(rituals.c.kind, rituals.c.opened_at, ritual_turns.c.finished_at)
        .select_from(ritual_turns.join(rituals, rituals.c.id == ritual_turns.c.ritual_id))
        .where(ritual_turns.c.user_id == USER_ID)
        .order_by(ritual_turns.c.id),
        who(user),
    )
    rows += [
        {
            "ritual": r.kind,
            "round_opened_at": iso(aware(r.opened_at)),
            "finished_at": iso(aware(r.finished_at)),
        }
        for r in turns
    ]
    return rows


def _delete(connection: Connection, user: UserRef) -> int:
    gone = connection.execute(
        delete(ritual_answers).where(ritual_answers.c.user_id == USER_ID), who(user)
    ).rowcount
    gone += connection.execute(
        delete(ritual_turns).where(ritual_turns.c.user_id == USER_ID), who(user)
    ).rowcount
    return int(gone)


def _purge(connection: Connection, before: datetime) -> int:
    result = connection.execute(delete(ritual_answers).where(ritual_answers.c.created_at < before))
    return int(result.rowcount)


HOOKS = PersonalDataHooks(
    section="rituals",
    tables=(rituals, ritual_answers, ritual_turns),
    export=_export,
    delete=_delete,
    purge=_purge,
)
"""Rituals' part in export, deletion and retention: a person's own answers (decrypted in
their export), their finished turns; rounds themselves go with the couple."""
