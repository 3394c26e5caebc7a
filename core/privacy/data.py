"""Export, delete and age out a person's data through every repository's hook."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from core.crypto import Cipher
from core.storage.breaks import HOOKS as BREAK_HOOKS
from core.storage.couples import HOOKS as COUPLE_HOOKS
from core.storage.database import Database
from core.storage.deliveries import HOOKS as DELIVERY_HOOKS
from core.storage.personal_data import PersonalDataHooks
from core.storage.repositories import STATE_HOOKS, USER_HOOKS
from core.storage.rituals import HOOKS as RITUAL_HOOKS
from core.storage.safety_plans import HOOKS as SAFETY_PLAN_HOOKS
from core.storage.subscriptions import HOOKS as SUBSCRIPTION_HOOKS
from core.types import UserRef

log = logging.getLogger(__name__)

HOOKS: tuple[PersonalDataHooks, ...] = (
    BREAK_HOOKS,
    RITUAL_HOOKS,
    COUPLE_HOOKS,
    DELIVERY_HOOKS,
    SUBSCRIPTION_HOOKS,
    SAFETY_PLAN_HOOKS,
    STATE_HOOKS,
    USER_HOOKS,
)
"""Every repository's hook, children before the tables they point to (deletion order)."""

EXPORT_FORMAT = 1
"""Version of the export's shape; raised when a field changes meaning."""


def export_person(connection: Connection, user: UserRef, cipher: Cipher, now: datetime) -> bytes:
    """Everything stored about ``user`` as UTF-8 JSON, decrypted, and nothing about anyone else."""
    document: dict[str, Any] = {
        "format": EXPORT_FORMAT,
        "exported_at": now.isoformat(),
        "person": {"platform": user.platform.value, "user_id": user.user_id},
    }
    for hooks in reversed(HOOKS):
        document[hooks.section] = hooks.export(connection, user, cipher)
    return json.dumps(document, ensure_ascii=False, indent=2).encode("utf-8")


def delete_person(connection: Connection, user: UserRef) -> int:
    """Remove every row about ``user`` in every table; returns how many rows went."""
    return sum(hooks.delete(connection, user) for hooks in HOOKS)


async def purge_expired_text(database: Database, now: datetime, retention_days: int) -> int:
    """Run :func:`purge_expired` in one transaction: the job the scheduler calls daily."""
    count = await database.run(lambda connection: purge_expired(connection, now, retention_days))
    log.info("retention purge removed %d stored texts older than %d days", count, retention_days)
    return count


def purge_expired(connection: Connection, now: datetime, retention_days: int) -> int:
    """Remove free text written more than ``retention_days`` before ``now``.

    The scheduler calls this daily; it is safe to run at any time and from several
    processes (each row goes once).
    """
    cutoff = now - timedelta(days=retention_days)
    return sum(hooks.purge(connection, cutoff) for hooks in HOOKS if hooks.purge is not None)
