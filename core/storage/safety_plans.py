"""A person's own short safety plan: a few answers in their words, stored encrypted."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, bindparam, delete, select

from core.crypto import Cipher
from core.storage.personal_data import Exported, PersonalDataHooks, iso
from core.storage.repositories import USER_ID, who
from core.storage.tables import safety_plan_items as items_table
from core.types import UserRef

_ITEMS = select(items_table.c.item, items_table.c.text, items_table.c.created_at).where(
    items_table.c.user_id == USER_ID
)
_DELETE_ITEM = delete(items_table).where(
    items_table.c.user_id == USER_ID, items_table.c.item == bindparam("item")
)
_DELETE_ALL = delete(items_table).where(items_table.c.user_id == USER_ID)


class SafetyPlanRepository:
    """Reads and writes one person's safety plan; text goes in and out through the cipher."""

    def __init__(self, connection: Connection, cipher: Cipher) -> None:
        self._connection = connection
        self._cipher = cipher

    def save(self, user: UserRef, item: str, text: str, now: datetime) -> None:
        """Keep ``text`` as the person's answer for ``item``, replacing an earlier one."""
        self._connection.execute(_DELETE_ITEM, {**who(user), "item": item})
        user_id = self._connection.execute(select(USER_ID), who(user)).scalar_one()
        self._connection.execute(
            items_table.insert(),
            {
                "user_id": user_id,
                "item": item,
                "text": self._cipher.seal(text),
                "created_at": now,
            },
        )

    def items(self, user: UserRef) -> dict[str, str]:
        """The person's plan so far, decrypted, by item."""
        rows = self._connection.execute(_ITEMS, who(user))
        return {row.item: self._cipher.open(row.text) for row in rows}


def _export(connection: Connection, user: UserRef, cipher: Cipher) -> Exported:
    rows = connection.execute(_ITEMS, who(user))
    return [
        {"item": r.item, "text": cipher.open(r.text), "written_at": iso(r.created_at)} for r in rows
    ]


def _delete(connection: Connection, user: UserRef) -> int:
    return connection.execute(_DELETE_ALL, who(user)).rowcount


def _purge(connection: Connection, before: datetime) -> int:
    return connection.execute(delete(items_table).where(items_table.c.created_at < before)).rowcount


HOOKS = PersonalDataHooks(
    section="safety_plan",
    tables=(items_table,),
    export=_export,
    delete=_delete,
    purge=_purge,
)
"""The safety plan's part in export, deletion and retention."""
