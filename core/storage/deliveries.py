"""The send queue and delivery record: one row per (item, local date), claimed in batches.

Rows are written by the tick (due subscriptions, see ``core.storage.subscriptions``) and
by flows through the ``Timers`` port (break ends, reminders). A sender claims queued
rows of its platform in priority order (``claimed`` in one commit), marks the few it is
about to hand to the platform ``sending`` (:func:`mark_sending`, committed just before
the platform calls; an unpaced sender, which hands the whole batch over within
milliseconds, claims it ``sending`` at once), and settles them all in a later commit.
The unique (item, local date) key means no item can be queued, and so sent, twice on one
local day, even across crashes and processes.

A crash leaves rows ``claimed`` (never handed to the platform: queued again, as if never
claimed) or ``sending`` (perhaps sent). What happens to a ``sending`` row, or any send
whose outcome is unknown (a time-out), depends on the kind (``core.schedule.kinds``):
at-most-once kinds are recorded as ``unknown`` and not resent; at-least-once kinds are
queued once more.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, and_, bindparam, delete, exists, func, or_, select, update

from core.crypto import Cipher
from core.profile import Profile
from core.schedule.kinds import AT_LEAST_ONCE, BREAKS_QUIET, ItemKind, deliver_by, priority_of
from core.schedule.local_time import outside_quiet
from core.schedule.timers import Payload
from core.storage.personal_data import Exported, PersonalDataHooks, iso
from core.storage.repositories import (
    PROFILE_COLUMNS,
    THIS_USER,
    USER_ID,
    aware,
    insert_ignoring_conflicts,
    profile_from_row,
    who,
)
from core.storage.subscriptions import quiet_hours
from core.storage.tables import breaks, couple_members, deliveries, subscriptions, users
from core.timezones import resolve_timezone
from core.types import ChatKind, ChatRef, Platform, UserRef

__all__ = [
    "HOOKS",
    "Claimed",
    "Outcome",
    "Result",
    "TimerRepository",
    "claim",
    "mark_sending",
    "prune_settled",
    "queue_counts",
    "recover_stale",
    "settle",
]

log = logging.getLogger(__name__)

QUEUED, CLAIMED, SENDING, SENT = "queued", "claimed", "sending", "sent"
SETTLED = ("sent", "unknown", "refused", "skipped", "failed")


class TimerRepository:
    """The ``Timers`` port on one transaction: one-off items in the send queue."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def schedule(
        self,
        key: str,
        at: datetime,
        payload: Payload,
        *,
        kind: ItemKind,
        user: UserRef,
        chat: ChatRef | None = None,
    ) -> None:
        """Queue ``kind`` for ``at``, replacing a pending item with the same ``key``.

        A key is used once per UTC day: a key already sent that day is not sent again.
        Anything but a break end is moved out of the person's quiet hours and given its
        grace window, like a nudge.
        """
        self.cancel(key)
        person = self._connection.execute(
            select(users.c.id, users.c.timezone, users.c.quiet_start, users.c.quiet_end).where(
                *THIS_USER
            ),
            who(user),
        ).first()
        user_id = person.id if person is not None else None
        by: datetime | None = None
        if person is not None:
            zone = resolve_timezone(person.timezone or "UTC")
            quiet = quiet_hours(person.quiet_start, person.quiet_end)
            if kind not in BREAKS_QUIET:
                at = outside_quiet(zone, at, quiet)
            by = deliver_by(kind, zone, at, quiet)
        insert = insert_ignoring_conflicts(deliveries)[self._connection.dialect.name]
        self._connection.execute(
            insert,
            {
                "item": f"timer:{key}",
                "local_date": at.date().isoformat(),
                "kind": kind.value,
                "priority": int(priority_of(kind)),
                "platform": user.platform.value,
                "user_id": user_id,
                "chat_id": chat.chat_id if chat else None,
                "chat_kind": chat.kind.value if chat else None,
                "thread_id": chat.thread_id if chat else None,
                "payload": json.dumps(payload, sort_keys=True),
                "status": QUEUED,
                "attempts": 0,
                "due_at": at,
                "not_before": at,
                "deliver_by": by,
            },
        )

    def cancel(self, key: str) -> bool:
        """Drop the pending item with ``key``; True if there was one."""
        result = self._connection.execute(
            delete(deliveries).where(
                deliveries.c.item == f"timer:{key}", deliveries.c.status == QUEUED
            )
        )
        return bool(result.rowcount)

    def pending(self, key: str) -> datetime | None:
        """When the pending item with ``key`` is due, or None."""
        value = self._connection.execute(
            select(deliveries.c.not_before).where(
                deliveries.c.item == f"timer:{key}", deliveries.c.status == QUEUED
            )
        ).scalar()
        return aware(value)


@dataclass(frozen=True, slots=True)
class Claimed:
    """One queued send, claimed by a sender.

    Attributes:
        id: the delivery row.
        item: ``sub:<id>`` or ``timer:<key>``.
        local_date: the local day it belongs to.
        kind: what it is.
        platform: where it goes.
        chat: the chat to send to; None for the person's private chat.
        profile: the person it is for, as stored now; None when it is for no one person.
        payload: identifiers and choices for rendering.
        attempts: sends so far whose outcome was unknown.
        due_at: when it was due.
        on_break: the person is on a break (``/pause``) as the item is claimed.
        claimed_at: when it was claimed; with the id, which claim it belongs to (a row
            taken back by :func:`recover_stale` and claimed again has another).
    """

    id: int
    item: str
    local_date: str
    kind: ItemKind
    platform: Platform
    chat: ChatRef | None
    profile: Profile | None
    payload: Payload = field(default_factory=dict)
    attempts: int = 0
    due_at: datetime | None = None
    on_break: bool = False
    claimed_at: datetime | None = None

    @property
    def nonce(self) -> str:
        """A stable 24-character id of this delivery, for platforms that deduplicate."""
        text = f"{self.item}@{self.local_date}".encode()
        return hashlib.blake2b(text, digest_size=12).hexdigest()


class Result(StrEnum):
    """How one send ended.

    ``RETRY``: nothing reached the platform (it could not be reached, or the ``sending``
    mark could not be committed); queued again after ``retry_after``, no attempt counted.
    ``RECLAIMED``: the row was no longer this sender's when it came to send it (held past
    the lease and taken back); it is left alone.
    """

    SENT = "sent"
    SKIPPED = "skipped"
    REFUSED = "refused"
    RATE_LIMITED = "rate_limited"
    RETRY = "retry"
    UNKNOWN = "unknown"
    FAILED = "failed"
    RECLAIMED = "reclaimed"


@dataclass(frozen=True, slots=True)
class Outcome:
    """The result of one claimed send, for :func:`settle`."""

    claimed: Claimed
    result: Result
    retry_after: float = 0.0
    reason: str | None = None


_member = couple_members.alias("break_member")
_ON_BREAK = (
    exists()
    .where(
        breaks.c.ended_at.is_(None),
        breaks.c.ends_at > bindparam("now"),
        or_(
            and_(breaks.c.couple_id.is_(None), breaks.c.caller_id == deliveries.c.user_id),
            breaks.c.couple_id
            == select(_member.c.couple_id)
            .where(_member.c.user_id == deliveries.c.user_id)
            .correlate(deliveries)
            .scalar_subquery(),
        ),
    )
    .label("on_break")
)
"""Whether the person an item is for is on a break right now (their couple's, or alone)."""

_ITEM_COLUMNS = (
    deliveries.c.id,
    deliveries.c.item,
    deliveries.c.local_date,
    deliveries.c.kind,
    deliveries.c.platform,
    deliveries.c.chat_id,
    deliveries.c.chat_kind,
    deliveries.c.thread_id,
    deliveries.c.payload,
    deliveries.c.attempts,
    deliveries.c.due_at,
    deliveries.c.deliver_by,
    users.c.platform_user_id,
)
_DELIVER_BY_AT = next(i for i, c in enumerate(_ITEM_COLUMNS) if c is deliveries.c.deliver_by)
_PROFILE_AT = len(_ITEM_COLUMNS)
"""Where the profile's columns begin in a claimed row (read by position, see ``_claimed``)."""
_CLAIM = (
    select(*_ITEM_COLUMNS, *PROFILE_COLUMNS, _ON_BREAK)
    .outerjoin(users, users.c.id == deliveries.c.user_id)
    .where(
        deliveries.c.status == QUEUED,
        deliveries.c.platform == bindparam("platform"),
        deliveries.c.not_before <= bindparam("now"),
    )
    .order_by(deliveries.c.priority, deliveries.c.not_before)
    .limit(bindparam("limit"))
    .with_for_update(skip_locked=True, of=deliveries)
)
_MARK = (
    update(deliveries)
    .where(deliveries.c.id == bindparam("row_id"))
    .values(
        status=bindparam("new_status"),
        reason=bindparam("new_reason"),
        claimed_at=bindparam("new_claimed_at"),
        settled_at=bindparam("new_settled_at"),
        attempts=bindparam("new_attempts"),
        not_before=bindparam("new_not_before"),
    )
)


_OURS = and_(
    or_(deliveries.c.status == CLAIMED, deliveries.c.status == SENDING),  # not IN: executemany
    deliveries.c.claimed_at == bindparam("claimed"),
)
"""A row still held by the claim that took it: settling never overwrites a row that was
taken back (held past the lease) and may be someone else's now."""
_SETTLE = _MARK.where(_OURS)

_TO_CLAIMED = (
    update(deliveries)
    .where(deliveries.c.id.in_(bindparam("ids", expanding=True)))
    .values(
        status=CLAIMED,
        reason=None,
        claimed_at=bindparam("at"),
        settled_at=None,
        not_before=bindparam("at"),
    )
)
_TO_SENDING_AT_ONCE = _TO_CLAIMED.values(status=SENDING)
_TO_SENDING = (
    update(deliveries)
    .where(
        deliveries.c.id.in_(bindparam("ids", expanding=True)),
        deliveries.c.status == CLAIMED,
        deliveries.c.claimed_at == bindparam("at"),
    )
    .values(status=SENDING)
    .returning(deliveries.c.id)
)
_TO_SENT = (
    update(deliveries)
    .where(deliveries.c.id.in_(bindparam("ids", expanding=True)), _OURS)
    .values(
        status=SENT,
        reason=None,
        claimed_at=bindparam("at"),
        settled_at=bindparam("at"),
        not_before=bindparam("at"),
    )
)
"""The common outcomes as one set-based statement per batch instead of one per row."""


_PLATFORMS = {platform.value: platform for platform in Platform}
_KINDS = {kind.value: kind for kind in ItemKind}
_CHAT_KINDS = {kind.value: kind for kind in ChatKind}


def _claimed(row: Any, now: datetime) -> Claimed:
    (
        row_id,
        item,
        local_date,
        kind,
        platform_name,
        chat_id,
        chat_kind,
        thread_id,
        payload,
        attempts,
        due_at,
        _deliver_by,
        platform_user_id,
    ) = row[:_PROFILE_AT]
    platform = _PLATFORMS[platform_name]
    profile = None
    if platform_user_id is not None:
        profile = profile_from_row(UserRef(platform, platform_user_id), row, _PROFILE_AT)
    chat = None
    if chat_id is not None:
        chat = ChatRef(platform, chat_id, _CHAT_KINDS[chat_kind], thread_id)
    return Claimed(
        id=row_id,
        item=item,
        local_date=local_date,
        kind=_KINDS[kind],
        platform=platform,
        chat=chat,
        profile=profile,
        payload=json.loads(payload) if payload else {},
        attempts=attempts,
        due_at=due_at,
        on_break=bool(row[-1]),
        claimed_at=now,
    )


def _closed(row: Any, now: datetime, status: str, reason: str) -> dict[str, Any]:
    """The marks that settle a claimed row without sending it."""
    return {
        "row_id": row.id,
        "new_status": status,
        "new_reason": reason,
        "new_claimed_at": now,
        "new_settled_at": now,
        "new_attempts": row.attempts,
        "new_not_before": row.due_at,
    }


def claim(
    connection: Connection,
    platform: Platform,
    now: datetime,
    limit: int,
    *,
    sending: bool = False,
) -> list[Claimed]:
    """Claim up to ``limit`` queued sends of ``platform`` that are due, by priority.

    Claimed rows are ``claimed`` when this transaction commits: reserved for this sender,
    not yet handed to the platform (see :func:`mark_sending`); with ``sending``, for a
    sender that hands the whole batch over within milliseconds, already ``sending``. Rows
    past their grace window are settled as skipped (``stale``) instead of being returned,
    and a row this version cannot read (a kind it does not know, say) as failed
    (``bad_row``).
    """
    rows = connection.execute(
        _CLAIM, {"platform": platform.value, "now": now, "limit": limit}
    ).all()
    if not rows:
        return []
    late: list[dict[str, Any]] = []
    claimed: list[Claimed] = []
    for row in rows:
        by = row[_DELIVER_BY_AT]
        if by is not None and now > by:
            late.append(_closed(row, now, "skipped", "stale"))
            continue
        try:
            claimed.append(_claimed(row, now))
        except (KeyError, ValueError) as exc:  # one bad row must not stall the queue
            log.error(
                "delivery %d cannot be read (%s); recorded as failed", row.id, type(exc).__name__
            )
            late.append(_closed(row, now, "failed", "bad_row"))
    if claimed:
        mark = _TO_SENDING_AT_ONCE if sending else _TO_CLAIMED
        connection.execute(mark, {"ids": [item.id for item in claimed], "at": now})
    if late:
        connection.execute(_MARK, late)
    return claimed


def mark_sending(connection: Connection, items: Sequence[Claimed]) -> set[int]:
    """Mark claimed ``items`` ``sending``, just before they go to the platform.

    Only rows still claimed by the same claim are marked; returns their ids. A row that is
    not among them was taken back meanwhile (see :func:`recover_stale`) and must not be
    sent: someone else may have it now.
    """
    by_claim: dict[datetime | None, list[int]] = {}
    for item in items:
        by_claim.setdefault(item.claimed_at, []).append(item.id)
    ours: set[int] = set()
    for at, ids in by_claim.items():
        rows = connection.execute(_TO_SENDING, {"ids": ids, "at": at})
        ours.update(row_id for (row_id,) in rows)
    return ours


def settle(connection: Connection, outcomes: Sequence[Outcome], now: datetime) -> None:
    """Record how claimed sends ended, in one transaction.

    A refusal switches off that subscription; refused in a private chat, the person is
    marked unreachable (and told the next time they write). A rate limit, or a platform
    that could not be reached, puts the row back after ``retry_after`` without counting an
    attempt.
    """
    marks: list[dict[str, Any]] = []
    sent: dict[datetime | None, list[int]] = {}
    refused_subs: list[int] = []
    unreachable: list[str] = []
    for outcome in outcomes:
        item = outcome.claimed
        if outcome.result is Result.SENT and outcome.reason is None:
            sent.setdefault(item.claimed_at, []).append(item.id)
            continue
        if outcome.result is Result.RECLAIMED:
            continue  # no longer ours to record
        status, reason, attempts = outcome.result.value, outcome.reason, item.attempts
        not_before: datetime = now
        settled_at: datetime | None = now
        if outcome.result in (Result.RATE_LIMITED, Result.RETRY):
            status, settled_at = QUEUED, None
            not_before = now + timedelta(seconds=outcome.retry_after)
        elif outcome.result is Result.UNKNOWN:
            attempts += 1
            if item.kind in AT_LEAST_ONCE and attempts < 2:
                status, settled_at = QUEUED, None
        elif outcome.result is Result.REFUSED:
            if item.item.startswith("sub:"):
                refused_subs.append(int(item.item.removeprefix("sub:")))
            if item.chat is None and item.profile is not None:
                unreachable.append(item.profile.user.user_id)
        marks.append(
            {
                "row_id": item.id,
                "new_status": status,
                "new_reason": reason,
                "new_claimed_at": None if status == QUEUED else now,
                "new_settled_at": settled_at,
                "new_attempts": attempts,
                "new_not_before": not_before,
                "claimed": item.claimed_at,
            }
        )
    for claimed_at, ids in sent.items():
        connection.execute(_TO_SENT, {"ids": ids, "at": now, "claimed": claimed_at})
    if marks:
        connection.execute(_SETTLE, marks)
    if refused_subs:
        connection.execute(
            update(subscriptions)
            .where(subscriptions.c.id.in_(refused_subs))
            .values(active=False, next_due_at=None, updated_at=now)
        )
    if unreachable:
        platform = outcomes[0].claimed.platform.value
        connection.execute(
            update(users)
            .where(
                users.c.platform == platform,
                users.c.platform_user_id.in_(unreachable),
                users.c.unreachable_since.is_(None),
            )
            .values(unreachable_since=now)
        )
        connection.execute(
            update(subscriptions)
            .where(
                subscriptions.c.user_id.in_(
                    select(users.c.id).where(
                        users.c.platform == platform, users.c.platform_user_id.in_(unreachable)
                    )
                )
            )
            .values(active=False, next_due_at=None, updated_at=now)
        )


def recover_stale(connection: Connection, now: datetime, claimed_before: datetime) -> int:
    """Take back sends a process claimed before ``claimed_before`` and never recorded.

    Rows still ``claimed`` never reached the platform: they are queued again as they were.
    Of rows left ``sending`` (perhaps sent), at-least-once kinds are queued once more and
    the others recorded as ``unknown``. Returns how many rows were recovered.
    """
    released = connection.execute(
        update(deliveries)
        .where(deliveries.c.status == CLAIMED, deliveries.c.claimed_at < claimed_before)
        .values(status=QUEUED, not_before=now, claimed_at=None)
    ).rowcount
    stale = and_(deliveries.c.status == SENDING, deliveries.c.claimed_at < claimed_before)
    again = [kind.value for kind in AT_LEAST_ONCE]
    requeued = connection.execute(
        update(deliveries)
        .where(stale, deliveries.c.kind.in_(again), deliveries.c.attempts < 1)
        .values(status=QUEUED, attempts=deliveries.c.attempts + 1, not_before=now, claimed_at=None)
    ).rowcount
    lost = connection.execute(
        update(deliveries)
        .where(stale)
        .values(
            status="unknown",
            reason="crash",
            attempts=deliveries.c.attempts + 1,
            settled_at=now,
        )
    ).rowcount
    return int(released) + int(requeued) + int(lost)


def prune_settled(connection: Connection, before: datetime) -> int:
    """Delete records of sends settled before ``before``; the queue keeps only recent days."""
    result = connection.execute(
        delete(deliveries).where(deliveries.c.status.in_(SETTLED), deliveries.c.settled_at < before)
    )
    return int(result.rowcount)


def queue_counts(connection: Connection, since: datetime) -> dict[str, int]:
    """Rows by status: everything queued, claimed or sending, and what settled since ``since``."""
    open_rows = connection.execute(
        select(deliveries.c.status, func.count())
        .where(deliveries.c.status.in_((QUEUED, CLAIMED, SENDING)))
        .group_by(deliveries.c.status)
    ).all()
    settled_rows = connection.execute(
        select(deliveries.c.status, func.count())
        .where(deliveries.c.status.in_(SETTLED), deliveries.c.settled_at >= since)
        .group_by(deliveries.c.status)
    ).all()
    return {str(status): int(count) for status, count in [*open_rows, *settled_rows]}


def _export(connection: Connection, user: UserRef, cipher: Cipher) -> Exported:
    rows = connection.execute(
        select(
            deliveries.c.kind,
            deliveries.c.local_date,
            deliveries.c.status,
            deliveries.c.due_at,
            deliveries.c.settled_at,
        )
        .where(deliveries.c.user_id == USER_ID)
        .order_by(deliveries.c.due_at),
        who(user),
    )
    return [
        {
            "kind": r.kind,
            "local_date": r.local_date,
            "status": r.status,
            "due_at": iso(aware(r.due_at)),
            "settled_at": iso(aware(r.settled_at)),
        }
        for r in rows
    ]


def _delete(connection: Connection, user: UserRef) -> int:
    result = connection.execute(
        delete(deliveries).where(deliveries.c.user_id == USER_ID), who(user)
    )
    return int(result.rowcount)


HOOKS = PersonalDataHooks(
    section="deliveries", tables=(deliveries,), export=_export, delete=_delete
)
"""Timed sends to a person, queued and past: kinds, days and outcomes, no text."""
