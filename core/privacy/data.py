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
from core.storage.person_rows import person_rows_hooks
from core.storage.personal_data import PersonalDataHooks
from core.storage.program_notes import forget_stale
from core.storage.repositories import STATE_HOOKS, USER_HOOKS
from core.storage.rituals import HOOKS as RITUAL_HOOKS
from core.storage.safety_plans import HOOKS as SAFETY_PLAN_HOOKS
from core.storage.subscriptions import HOOKS as SUBSCRIPTION_HOOKS
from core.storage.tables import (
    action_log,
    journal_entries,
    moments,
    program_notes,
    promises,
    quiz_results,
)
from core.types import UserRef

log = logging.getLogger(__name__)

HOOKS: tuple[PersonalDataHooks, ...] = (
    person_rows_hooks("daily_steps", action_log, "at"),
    person_rows_hooks("promises", promises, "made_at"),
    person_rows_hooks("appreciations_and_hurts", moments, "at"),
    person_rows_hooks("weekly_reflections", journal_entries, "at"),
    person_rows_hooks("notes_in_progress", program_notes, "at"),
    person_rows_hooks("quiz_outcomes", quiz_results, "at"),
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

BUILDER_NOTES_KEPT = timedelta(days=1)
"""How long answers kept between a builder's steps may wait for the builder to finish."""

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
    processes (each row goes once). Answers a builder (``/apology``, ``/journal``) kept
    between its steps go after a day: one left half-way is not coming back.
    """
    cutoff = now - timedelta(days=retention_days)
    stale = forget_stale(connection, now - BUILDER_NOTES_KEPT)
    return stale + sum(
        hooks.purge(connection, cutoff) for hooks in HOOKS if hooks.purge is not None
    )
