"""Recurring items: which people get which nudge when, and turning due ones into sends.

A subscription follows a person's IANA zone and local time; its next due instant is kept
in UTC (``core.schedule.local_time``). A tick (``queue_due``) claims due subscriptions in
one transaction: it writes one delivery row per occurrence (unique per item and local
date, see ``core.storage.deliveries``) and moves each subscription to its next occurrence.
On PostgreSQL the claim skips rows another process holds (``FOR UPDATE SKIP LOCKED``), so
several processes can tick on one database; SQLite has one writer at a time anyway.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from functools import partial
from typing import Any

from sqlalchemy import Connection, bindparam, delete, select, update

from core.profile import Profile
from core.schedule.kinds import ItemKind, deliver_by, priority_of
from core.schedule.local_time import DEFAULT_QUIET, QuietHours, next_due, spread_offset
from core.storage.bulk_write import BulkWrite
from core.storage.personal_data import Exported, PersonalDataHooks, iso
from core.storage.repositories import (
    USER_ID,
    aware,
    hhmm,
    insert_ignoring_conflicts,
    parse_hhmm,
    who,
)
from core.storage.tables import deliveries, subscriptions, users
from core.timezones import resolve_timezone
from core.types import ChatRef, UserRef

__all__ = [
    "HOOKS",
    "NUDGE_KINDS",
    "QueuedDue",
    "SubscriptionRepository",
    "person_key",
    "queue_due",
    "quiet_hours",
    "wants_nudges",
]

log = logging.getLogger(__name__)

NUDGE_KINDS = (ItemKind.MORNING, ItemKind.EVENING, ItemKind.WEEKLY)
"""Kinds a subscription can have; ``/stop`` turns all of them off."""

_CATCH_UP = timedelta(days=2)
"""After a long downtime, missed occurrences older than this are not even counted one by
one: the subscription jumps ahead."""

_INSERT_DELIVERY = insert_ignoring_conflicts(deliveries)
_QUEUE = BulkWrite(
    deliveries,
    _INSERT_DELIVERY,
    (
        "item",
        "local_date",
        "kind",
        "priority",
        "platform",
        "user_id",
        "chat_id",
        "chat_kind",
        "thread_id",
        "status",
        "attempts",
        "due_at",
        "not_before",
        "deliver_by",
        "settled_at",
        "reason",
    ),
)
"""The tick's insert of one delivery row per due subscription."""


def person_key(user: UserRef) -> str:
    """The stable string a person's spread offset is derived from."""
    return f"{user.platform.value}:{user.user_id}"


def quiet_hours(start: str | None, end: str | None) -> QuietHours:
    """A person's stored quiet hours, or the default when they chose none (as ``Profile``)."""
    first, last = parse_hhmm(start), parse_hhmm(end)
    return QuietHours(first, last) if first is not None and last is not None else DEFAULT_QUIET


def wants_nudges(profile: Profile) -> bool:
    """Whether daily nudges are on for a person: set up, a time chosen, not stopped, reachable."""
    return (
        profile.onboarded
        and profile.daily_time is not None
        and not profile.nudges_stopped
        and profile.unreachable_since is None
    )


_PUT_COLUMNS = (
    "timezone",
    "local_time",
    "weekday",
    "chat_id",
    "chat_kind",
    "thread_id",
    "active",
    "next_due_at",
    "updated_at",
)
"""What moving a subscription sets; ``_put`` binds exactly these."""
_PUT = (
    update(subscriptions)
    .where(subscriptions.c.user_id == USER_ID, subscriptions.c.kind == bindparam("put_kind"))
    .values({name: bindparam(f"new_{name}") for name in _PUT_COLUMNS})
)
_OTHERS = select(subscriptions.c.id, subscriptions.c.local_time, subscriptions.c.weekday).where(
    subscriptions.c.user_id == USER_ID, subscriptions.c.kind != ItemKind.MORNING.value
)
_REFOLLOW = (
    update(subscriptions)
    .where(subscriptions.c.id == bindparam("sub_id"))
    .values(
        timezone=bindparam("zone"),
        active=True,
        next_due_at=bindparam("next_at"),
        updated_at=bindparam("now"),
    )
)
"""Statements of a settings change (every set-up ends with one), built once."""


class SubscriptionRepository:
    """One person's recurring items, inside one transaction."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def follow(self, profile: Profile, default_timezone: str, now: datetime) -> None:
        """Make the morning action follow the profile at once: its time, zone, quiet hours.

        The next occurrence is computed from ``now``; ``/stop``, an unreachable person or
        no chosen time switches it off. Call only when one of those changed, so a due
        occurrence the tick has not claimed yet is never skipped by an unrelated save.
        """
        zone_name = profile.timezone or default_timezone
        active = wants_nudges(profile)
        at = profile.daily_time or time(9, 0)
        next_at = None
        if active:
            zone = resolve_timezone(zone_name)
            following = partial(
                next_due,
                zone,
                at,
                offset=spread_offset(person_key(profile.user)),
                quiet=profile.quiet,
            )
            taken = self.taken_days(profile.user, ItemKind.MORNING)
            next_at = _untaken(following(now), zone, following, taken)
        self._put(profile.user, ItemKind.MORNING, zone_name, at, None, None, active, next_at, now)
        if not active:
            self.set_active(profile.user, False, now)
        else:
            self._refollow_others(profile, zone_name, now)

    def subscribe(
        self,
        profile: Profile,
        kind: ItemKind,
        at: time,
        now: datetime,
        *,
        default_timezone: str,
        weekday: int | None = None,
        chat: ChatRef | None = None,
    ) -> datetime | None:
        """Start (or move) a recurring ``kind`` for the person; returns its next due instant.

        ``chat`` None means the person's private chat. It stays off while nudges are off.
        """
        if kind not in NUDGE_KINDS:
            raise ValueError(f"{kind} is not a recurring kind")
        zone_name = profile.timezone or default_timezone
        active = wants_nudges(profile)
        next_at = None
        if active:
            zone = resolve_timezone(zone_name)
            following = partial(
                next_due,
                zone,
                at,
                offset=spread_offset(person_key(profile.user)),
                quiet=profile.quiet,
                weekday=weekday,
            )
            taken = self.taken_days(profile.user, kind)
            next_at = _untaken(following(now), zone, following, taken)
        self._put(profile.user, kind, zone_name, at, weekday, chat, active, next_at, now)
        return next_at

    def unsubscribe(self, user: UserRef, kind: ItemKind) -> bool:
        """Drop one recurring item; True if it existed."""
        result = self._connection.execute(
            delete(subscriptions).where(
                subscriptions.c.user_id == USER_ID, subscriptions.c.kind == kind.value
            ),
            who(user),
        )
        return bool(result.rowcount)

    def set_active(self, user: UserRef, active: bool, now: datetime) -> None:
        """Switch all of a person's nudges off (or on again via :meth:`follow`)."""
        values: dict[str, Any] = {"active": active, "updated_at": now}
        if not active:
            values["next_due_at"] = None
        self._connection.execute(
            update(subscriptions).where(subscriptions.c.user_id == USER_ID).values(values),
            who(user),
        )

    def due_at(self, user: UserRef, kind: ItemKind) -> datetime | None:
        """The next due instant of one of the person's items, None when off or absent."""
        value = self._connection.execute(
            select(subscriptions.c.next_due_at).where(
                subscriptions.c.user_id == USER_ID,
                subscriptions.c.kind == kind.value,
                subscriptions.c.active.is_(True),
            ),
            who(user),
        ).scalar()
        return aware(value)

    def taken_days(self, user: UserRef, kind: ItemKind) -> frozenset[date]:
        """Local days on which the person's ``kind`` already had its send queued.

        One send per item and local day (the queue's unique key): an occurrence on one of
        these days would never go out, so a reschedule moves past it.
        """
        sub_id = self._connection.execute(
            select(subscriptions.c.id).where(
                subscriptions.c.user_id == USER_ID, subscriptions.c.kind == kind.value
            ),
            who(user),
        ).scalar()
        return self._taken(sub_id)

    def _taken(self, sub_id: int | None) -> frozenset[date]:
        if sub_id is None:
            return frozenset()
        days = self._connection.execute(
            select(deliveries.c.local_date).where(deliveries.c.item == f"sub:{sub_id}")
        ).scalars()
        return frozenset(date.fromisoformat(day) for day in days)

    def _refollow_others(self, profile: Profile, zone_name: str, now: datetime) -> None:
        """Other kinds keep their own local time but follow the zone and quiet hours."""
        rows = self._connection.execute(_OTHERS, who(profile.user)).all()
        zone = resolve_timezone(zone_name)
        offset = spread_offset(person_key(profile.user))
        for row in rows:
            at = parse_hhmm(row.local_time) or time(9, 0)
            following = partial(
                next_due, zone, at, offset=offset, quiet=profile.quiet, weekday=row.weekday
            )
            due = _untaken(following(now), zone, following, self._taken(row.id))
            self._connection.execute(
                _REFOLLOW, {"sub_id": row.id, "zone": zone_name, "next_at": due, "now": now}
            )

    def _put(
        self,
        user: UserRef,
        kind: ItemKind,
        zone_name: str,
        at: time,
        weekday: int | None,
        chat: ChatRef | None,
        active: bool,
        next_at: datetime | None,
        now: datetime,
    ) -> None:
        values = {
            "timezone": zone_name,
            "local_time": hhmm(at),
            "weekday": weekday,
            "chat_id": chat.chat_id if chat else None,
            "chat_kind": chat.kind.value if chat else None,
            "thread_id": chat.thread_id if chat else None,
            "active": active,
            "next_due_at": next_at,
            "updated_at": now,
        }
        bound = {f"new_{name}": values[name] for name in _PUT_COLUMNS}
        changed = self._connection.execute(
            _PUT, {**bound, "put_kind": kind.value, **who(user)}
        ).rowcount
        if changed:
            return
        user_id = self._connection.execute(select(USER_ID), who(user)).scalar()
        if user_id is None:
            return  # the person was deleted in this very turn
        insert = insert_ignoring_conflicts(subscriptions)[self._connection.dialect.name]
        self._connection.execute(
            insert,
            {
                **values,
                "user_id": user_id,
                "kind": kind.value,
                "platform": user.platform.value,
                "created_at": now,
            },
        )


@dataclass(frozen=True, slots=True)
class QueuedDue:
    """What one tick did with the due subscriptions it claimed.

    Attributes:
        queued: occurrences put in the send queue.
        stale: occurrences past their grace window, skipped (and recorded as skipped).
        missed: older occurrences during a downtime, skipped without a record.
        broken: subscriptions whose next occurrence could not be worked out (a zone the
            installed time-zone data no longer knows, a kind this version does not):
            tried again a day later, and logged, rather than stopping the tick.
    """

    queued: int = 0
    stale: int = 0
    missed: int = 0
    broken: int = 0

    @property
    def claimed(self) -> int:
        """Subscriptions handled by the tick."""
        return self.queued + self.stale + self.broken


_DUE = (
    select(
        subscriptions.c.id,
        subscriptions.c.user_id,
        subscriptions.c.kind,
        subscriptions.c.platform,
        subscriptions.c.timezone,
        subscriptions.c.local_time,
        subscriptions.c.weekday,
        subscriptions.c.chat_id,
        subscriptions.c.chat_kind,
        subscriptions.c.thread_id,
        subscriptions.c.next_due_at,
        users.c.platform_user_id,
        users.c.quiet_start,
        users.c.quiet_end,
    )
    .join(users, users.c.id == subscriptions.c.user_id)
    .where(subscriptions.c.active.is_(True), subscriptions.c.next_due_at <= bindparam("now"))
    .order_by(subscriptions.c.next_due_at)
    .limit(bindparam("limit"))
    .with_for_update(skip_locked=True, of=subscriptions)
)
_ADVANCE = (
    update(subscriptions)
    .where(subscriptions.c.id == bindparam("sub_id"))
    .values(next_due_at=bindparam("next_at"))
)
_MOVE = BulkWrite(
    subscriptions,
    {"postgresql": _ADVANCE, "sqlite": _ADVANCE},
    ("next_at", "sub_id"),
    columns={"next_at": "next_due_at", "sub_id": "id"},
)
"""The tick's move of each subscription to its next occurrence, as plain rows."""


def _untaken(
    due: datetime,
    zone: tzinfo,
    following: Callable[[datetime], datetime],
    taken: frozenset[date],
) -> datetime:
    """``due``, or the first occurrence after it on a local day that has not had its send."""
    for _ in range(len(taken)):  # each step passes one taken day at most
        if due.astimezone(zone).date() not in taken:
            break
        due = following(due)
    return due


def _following(
    zone: tzinfo,
    at: time,
    after: datetime,
    *,
    offset: timedelta,
    quiet: QuietHours | None,
    weekday: int | None,
) -> datetime:
    return next_due(zone, at, after, offset=offset, quiet=quiet, weekday=weekday)


@dataclass(frozen=True, slots=True)
class _Occurrence:
    """What a due subscription becomes: the same for every row with the same inputs."""

    due: datetime
    upcoming: datetime
    by: datetime | None
    local_date: str
    missed: int


@functools.lru_cache(maxsize=16_384)
def _occurrence(
    zone_name: str,
    kind: str,
    local_time: str,
    quiet_start: str | None,
    quiet_end: str | None,
    weekday: int | None,
    offset: timedelta,
    stored_due: datetime,
    now: datetime,
) -> _Occurrence:
    """The occurrence to queue for a subscription due at ``stored_due``, and the one after.

    Pure in its arguments (the stored columns), so cached: a tick's batches share it, and
    a popular slot (zone, local time, spread offset) is worked out once a tick rather than
    once a person.
    """
    zone = resolve_timezone(zone_name)
    quiet = quiet_hours(quiet_start, quiet_end)
    at = parse_hhmm(local_time) or time(9, 0)
    following = partial(_following, zone, at, offset=offset, quiet=quiet, weekday=weekday)
    due = aware(stored_due)
    assert due is not None
    missed = 0
    if now - due > _CATCH_UP:
        due = following(now - _CATCH_UP)
        missed += 1
    upcoming = following(due)
    while upcoming <= now:  # a downtime: only the latest occurrence may still go out
        due, upcoming = upcoming, following(upcoming)
        missed += 1
    by = deliver_by(ItemKind(kind), zone, due, quiet)
    return _Occurrence(due, upcoming, by, due.astimezone(zone).date().isoformat(), missed)


@functools.lru_cache(maxsize=16_384)
def _bound(
    occurrence: _Occurrence, instant: Callable[[Any], Any], next_instant: Callable[[Any], Any]
) -> tuple[Any, Any, Any]:
    """An occurrence's due, grace and next instants as the driver takes them.

    ``instant`` converts for the queue's columns, ``next_instant`` for the subscription's.
    Cached like :func:`_occurrence`: a popular slot's instants are converted once a tick,
    not once per batch.
    """
    by = occurrence.by
    return (
        instant(occurrence.due),
        None if by is None else instant(by),
        next_instant(occurrence.upcoming),
    )


_GROUPED_ADVANCE = (
    update(subscriptions)
    .where(subscriptions.c.id.in_(bindparam("sub_ids", expanding=True)))
    .values(next_due_at=bindparam("next_at"))
)


def queue_due(connection: Connection, now: datetime, limit: int) -> QueuedDue:
    """Claim up to ``limit`` due subscriptions, queue one send each, move each on.

    An occurrence past its grace window (a morning action after noon, say, after Mend was
    down) is recorded as skipped, not sent. Run it inside one transaction: the queued rows
    and the moved due times commit together or not at all.

    Rows sharing zone, local time, quiet hours, weekday, kind, spread offset and due
    instant (a popular slot) share one computation of their occurrence, and the
    subscriptions moving to the same next instant move in one statement.
    """
    rows = connection.execute(_DUE, {"now": now, "limit": limit}).all()
    if not rows:
        return QueuedDue()
    instant = _QUEUE.binder(connection.dialect, "due_at")
    next_instant = _MOVE.binder(connection.dialect, "next_at")
    settled_at = instant(now)
    values: list[tuple[Any, ...]] = []
    moves: dict[datetime, list[int]] = {}
    moved: list[tuple[Any, int]] = []
    broken: list[int] = []
    queued = stale = missed = 0
    for (
        sub_id,
        user_id,
        kind,
        platform,
        zone_name,
        local_time,
        weekday,
        chat_id,
        chat_kind,
        thread_id,
        next_due_at,
        platform_user_id,
        quiet_start,
        quiet_end,
    ) in rows:
        offset = spread_offset(f"{platform}:{platform_user_id}")
        try:
            priority = _PRIORITY[kind]
            occurrence = _occurrence(
                zone_name,
                kind,
                local_time,
                quiet_start,
                quiet_end,
                weekday,
                offset,
                next_due_at,
                now,
            )
        except (KeyError, ValueError) as exc:  # one bad row must not stop everyone's nudges
            log.error(
                "subscription %d cannot be scheduled (%s); trying it again in a day",
                sub_id,
                type(exc).__name__,
            )
            broken.append(sub_id)
            continue
        missed += occurrence.missed
        due, by, upcoming = _bound(occurrence, instant, next_instant)
        if occurrence.by is not None and now > occurrence.by:
            stale += 1
            status, settled, reason = "skipped", settled_at, "stale"
        else:
            queued += 1
            status, settled, reason = "queued", None, None
        values.append(
            (
                f"sub:{sub_id}",
                occurrence.local_date,
                kind,
                priority,
                platform,
                user_id,
                chat_id,
                chat_kind,
                thread_id,
                status,
                0,
                due,
                due,
                by,
                settled,
                reason,
            )
        )
        moves.setdefault(occurrence.upcoming, []).append(sub_id)
        moved.append((upcoming, sub_id))
    _QUEUE.run(connection, values)
    if broken:
        moves.setdefault(now + timedelta(days=1), []).extend(broken)
    if len(moves) * 4 <= len(rows):  # a few popular next instants: one statement each
        for next_at, ids in moves.items():
            connection.execute(_GROUPED_ADVANCE, {"sub_ids": ids, "next_at": next_at})
    else:
        if broken:
            moved.extend((next_instant(now + timedelta(days=1)), sub_id) for sub_id in broken)
        _MOVE.run(connection, moved)
    return QueuedDue(queued=queued, stale=stale, missed=missed, broken=len(broken))


_PRIORITY = {kind.value: int(priority_of(kind)) for kind in ItemKind}


def _export(connection: Connection, user: UserRef, cipher: object) -> Exported:
    rows = connection.execute(
        select(subscriptions)
        .where(subscriptions.c.user_id == USER_ID)
        .order_by(subscriptions.c.id),
        who(user),
    )
    return [
        {
            "kind": r.kind,
            "timezone": r.timezone,
            "local_time": r.local_time,
            "weekday": r.weekday,
            "where": "private" if r.chat_id is None else "group",
            "active": r.active,
            "next_due_at": iso(aware(r.next_due_at)),
        }
        for r in rows
    ]


def _delete(connection: Connection, user: UserRef) -> int:
    result = connection.execute(
        delete(subscriptions).where(subscriptions.c.user_id == USER_ID), who(user)
    )
    return int(result.rowcount)


HOOKS = PersonalDataHooks(
    section="schedule", tables=(subscriptions,), export=_export, delete=_delete
)
"""A person's recurring items: kinds and times, no text."""
