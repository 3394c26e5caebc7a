"""Repositories: SQL in, core dataclasses out. Each takes the connection of one transaction.

Statements are built once at import with bound parameters, so a call only binds values.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, datetime, time
from typing import Any

from sqlalchemy import Connection, Insert, Row, Table, bindparam, delete, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from core.crypto import Cipher
from core.flows.engine import FlowState
from core.profile import Profile, Situation
from core.storage.personal_data import Exported, PersonalDataHooks, iso, like_escape
from core.storage.tables import conversation_states as states_table
from core.storage.tables import users
from core.types import UserRef


class StaleStateError(Exception):
    """Another writer changed the conversation state since it was read."""


@dataclass(frozen=True, slots=True)
class VersionedState:
    """A conversation state as read, with the version a later write must match."""

    state: FlowState | None
    version: int


def aware(value: datetime | None) -> datetime | None:
    """``value`` with UTC attached if the driver returned it naive (SQLite), else as is."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


@functools.lru_cache(maxsize=2048)
def parse_hhmm(value: str | None) -> time | None:
    """A stored ``HH:MM`` as a time, or None (cached: few distinct values, read per row)."""
    if not value:
        return None
    hour, minute = value.split(":")
    return time(int(hour), int(minute))


def hhmm(value: time | None) -> str | None:
    """A time as stored: ``HH:MM``, or None."""
    return f"{value.hour:02d}:{value.minute:02d}" if value else None


def insert_ignoring_conflicts(table: Table) -> dict[str, Insert]:
    """The same INSERT … ON CONFLICT DO NOTHING for each dialect, by dialect name."""
    return {
        "postgresql": postgresql.insert(table).on_conflict_do_nothing(),
        "sqlite": sqlite.insert(table).on_conflict_do_nothing(),
    }


PROFILE_COLUMNS = (
    users.c.is_adult,
    users.c.consented,
    users.c.timezone,
    users.c.daily_time,
    users.c.situation,
    users.c.onboarded_at,
    users.c.safety_mode,
    users.c.safety_since,
    users.c.quiet_start,
    users.c.quiet_end,
    users.c.nudges_stopped,
    users.c.unreachable_since,
    users.c.phase,
    users.c.phase_since,
    users.c.plan,
    users.c.recent,
)
"""The columns a :class:`Profile` is read from, in the order :func:`profile_from_row` reads."""
THIS_USER = (
    users.c.platform == bindparam("who_platform"),
    users.c.platform_user_id == bindparam("who_user_id"),
)
"""The ``WHERE`` that picks the person bound by :func:`who`."""
_FIND_USER = select(*PROFILE_COLUMNS).where(*THIS_USER)
_INSERT_USER = insert_ignoring_conflicts(users)
_SAVE_USER = (
    update(users)
    .where(*THIS_USER)
    .values(
        is_adult=bindparam("new_is_adult"),
        consented=bindparam("new_consented"),
        timezone=bindparam("new_timezone"),
        daily_time=bindparam("new_daily_time"),
        situation=bindparam("new_situation"),
        onboarded_at=bindparam("new_onboarded_at"),
        safety_mode=bindparam("new_safety_mode"),
        safety_since=bindparam("new_safety_since"),
        quiet_start=bindparam("new_quiet_start"),
        quiet_end=bindparam("new_quiet_end"),
        nudges_stopped=bindparam("new_nudges_stopped"),
        unreachable_since=bindparam("new_unreachable_since"),
        phase=bindparam("new_phase"),
        phase_since=bindparam("new_phase_since"),
        plan=bindparam("new_plan"),
        recent=bindparam("new_recent"),
        updated_at=bindparam("now"),
    )
)
_STATE_COLUMNS = (states_table.c.flow, states_table.c.step, states_table.c.version)
_LOAD_STATE = select(*_STATE_COLUMNS).where(states_table.c.key == bindparam("key"))
_LOAD_TURN = (
    select(*PROFILE_COLUMNS, *_STATE_COLUMNS)
    .select_from(users.outerjoin(states_table, states_table.c.key == bindparam("key")))
    .where(*THIS_USER)
)
_INSERT_STATE = insert_ignoring_conflicts(states_table)
_UPDATE_STATE = (
    update(states_table)
    .where(
        states_table.c.key == bindparam("state_key"),
        states_table.c.version == bindparam("expected"),
    )
    .values(
        flow=bindparam("new_flow"),
        step=bindparam("new_step"),
        version=bindparam("new_version"),
        updated_at=bindparam("now"),
    )
)


def who(user: UserRef) -> dict[str, str]:
    """The bound values that :data:`THIS_USER` and :data:`USER_ID` select ``user`` by."""
    return {"who_platform": user.platform.value, "who_user_id": user.user_id}


USER_ID = select(users.c.id).where(*THIS_USER).scalar_subquery()
"""The id of the person bound by :func:`who`, for tables that point to ``users``."""


_SITUATIONS = {situation.value: situation for situation in Situation}


def profile_from_row(user: UserRef, row: Row[*tuple[Any, ...]], start: int = 0) -> Profile:
    """A profile from a row holding :data:`PROFILE_COLUMNS`, in order, from ``start`` on.

    Read by position, not by name: the scheduler builds one per claimed send, and a
    ``Row`` attribute costs ten times an index. Instants arrive aware (``UtcDateTime``).
    """
    (
        is_adult,
        consented,
        timezone,
        daily_time,
        situation,
        onboarded_at,
        safety_mode,
        safety_since,
        quiet_start,
        quiet_end,
        nudges_stopped,
        unreachable_since,
        phase,
        phase_since,
        plan,
        recent,
    ) = row[start : start + len(PROFILE_COLUMNS)]
    return Profile(
        user=user,
        is_adult=is_adult,
        consented=bool(consented),
        timezone=timezone,
        daily_time=parse_hhmm(daily_time),
        situation=_SITUATIONS[situation] if situation else None,
        onboarded_at=onboarded_at,
        safety_mode=bool(safety_mode),
        safety_since=safety_since,
        quiet_start=parse_hhmm(quiet_start),
        quiet_end=parse_hhmm(quiet_end),
        nudges_stopped=bool(nudges_stopped),
        unreachable_since=unreachable_since,
        phase=phase or 1,
        phase_since=phase_since,
        plan=plan or "",
        recent=recent or "",
    )


def _versioned(row: Row[*tuple[Any, ...]] | None) -> VersionedState:
    if row is None or row.version is None:
        return VersionedState(None, 0)
    state = FlowState(row.flow, row.step) if row.flow and row.step else None
    return VersionedState(state, row.version)


class UserRepository:
    """People and their set-up answers."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def find(self, user: UserRef) -> Profile | None:
        """Return the stored profile of ``user``, or None if they never talked to Mend."""
        row = self._connection.execute(_FIND_USER, who(user)).first()
        return None if row is None else profile_from_row(user, row)

    def create(self, user: UserRef, now: datetime) -> Profile:
        """Store an empty profile for ``user`` unless one exists; return the empty profile."""
        insert = _INSERT_USER[self._connection.dialect.name]
        values = {
            "platform": user.platform.value,
            "platform_user_id": user.user_id,
            "consented": False,
            "safety_mode": False,
            "nudges_stopped": False,
            "created_at": now,
            "updated_at": now,
        }
        self._connection.execute(insert, values)
        return Profile(user=user)

    def get_or_create(self, user: UserRef, now: datetime) -> Profile:
        """Return the profile of ``user``, creating an empty one the first time."""
        return self.find(user) or self.create(user, now)

    def save(self, profile: Profile, now: datetime) -> None:
        """Store every field of ``profile``."""
        self._connection.execute(
            _SAVE_USER,
            {
                **who(profile.user),
                "new_is_adult": profile.is_adult,
                "new_consented": profile.consented,
                "new_timezone": profile.timezone,
                "new_daily_time": hhmm(profile.daily_time),
                "new_situation": profile.situation.value if profile.situation else None,
                "new_onboarded_at": profile.onboarded_at,
                "new_safety_mode": profile.safety_mode,
                "new_safety_since": profile.safety_since,
                "new_quiet_start": hhmm(profile.quiet_start),
                "new_quiet_end": hhmm(profile.quiet_end),
                "new_nudges_stopped": profile.nudges_stopped,
                "new_unreachable_since": profile.unreachable_since,
                "new_phase": profile.phase,
                "new_phase_since": profile.phase_since,
                "new_plan": profile.plan or None,
                "new_recent": profile.recent or None,
                "now": now,
            },
        )


class StateRepository:
    """Conversation states by scope key, with optimistic versioning."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def load(self, key: str) -> VersionedState:
        """Return the state under ``key``; a key never written is idle at version 0."""
        return _versioned(self._connection.execute(_LOAD_STATE, {"key": key}).first())

    def save(self, key: str, state: FlowState | None, expected_version: int, now: datetime) -> int:
        """Write ``state`` (None for idle) if the stored version is still ``expected_version``.

        Returns:
            The new version.

        Raises:
            StaleStateError: when another writer got there first.
        """
        flow, step = (state.flow, state.step) if state else (None, None)
        new_version = expected_version + 1
        if expected_version == 0:
            result = self._connection.execute(
                _INSERT_STATE[self._connection.dialect.name],
                {"key": key, "flow": flow, "step": step, "version": new_version, "updated_at": now},
            )
        else:
            result = self._connection.execute(
                _UPDATE_STATE,
                {
                    "state_key": key,
                    "expected": expected_version,
                    "new_flow": flow,
                    "new_step": step,
                    "new_version": new_version,
                    "now": now,
                },
            )
        if result.rowcount != 1:
            raise StaleStateError(key)
        return new_version


def load_turn(
    connection: Connection, user: UserRef, key: str, now: datetime
) -> tuple[Profile, VersionedState]:
    """Read a person's profile and one conversation state in a single query.

    The first time a person appears their empty profile is created.
    """
    row = connection.execute(_LOAD_TURN, {**who(user), "key": key}).first()
    if row is not None:
        return profile_from_row(user, row), _versioned(row)
    return UserRepository(connection).create(user, now), StateRepository(connection).load(key)


def _state_keys_of(user: UserRef) -> Any:
    """Conversation states that belong to one person: their own, and theirs in each chat.

    Keys are built by ``core.flows.scope.state_key``: ``u:<platform>:<user>`` and
    ``uc:<platform>:<chat>:<user>``. Chat-wide states (``c:``) belong to no one person.
    """
    own = f"u:{user.platform.value}:{user.user_id}"
    in_chats = f"uc:{like_escape(user.platform.value)}:%:{like_escape(user.user_id)}"
    return or_(
        states_table.c.key == own,
        states_table.c.key.like(in_chats, escape="\\"),
    )


def _export_user(connection: Connection, user: UserRef, cipher: Cipher) -> Exported:
    row = connection.execute(select(users).where(*THIS_USER), who(user)).first()
    if row is None:
        return []
    return [
        {
            "platform": row.platform,
            "platform_user_id": row.platform_user_id,
            "is_adult": row.is_adult,
            "consented": row.consented,
            "timezone": row.timezone,
            "daily_time": row.daily_time,
            "situation": row.situation,
            "onboarded_at": iso(aware(row.onboarded_at)),
            "safety_mode": row.safety_mode,
            "safety_since": iso(aware(row.safety_since)),
            "quiet_hours": (
                f"{row.quiet_start}-{row.quiet_end}" if row.quiet_start and row.quiet_end else None
            ),
            "nudges_stopped": row.nudges_stopped,
            "unreachable_since": iso(aware(row.unreachable_since)),
            "phase": row.phase,
            "phase_since": iso(aware(row.phase_since)),
            "planned_daily_steps": row.plan,
            "recent_daily_steps": row.recent,
            "first_seen": iso(aware(row.created_at)),
            "last_changed": iso(aware(row.updated_at)),
        }
    ]


def _delete_user(connection: Connection, user: UserRef) -> int:
    return connection.execute(delete(users).where(*THIS_USER), who(user)).rowcount


def _export_states(connection: Connection, user: UserRef, cipher: Cipher) -> Exported:
    rows = connection.execute(
        select(states_table.c.flow, states_table.c.step, states_table.c.updated_at)
        .where(_state_keys_of(user), states_table.c.flow.is_not(None))
        .order_by(states_table.c.updated_at)
    )
    return [{"flow": r.flow, "step": r.step, "since": iso(aware(r.updated_at))} for r in rows]


def _delete_states(connection: Connection, user: UserRef) -> int:
    return connection.execute(delete(states_table).where(_state_keys_of(user))).rowcount


USER_HOOKS = PersonalDataHooks(
    section="profile", tables=(users,), export=_export_user, delete=_delete_user
)
"""The profile's part in export and deletion (it holds no free text)."""

STATE_HOOKS = PersonalDataHooks(
    section="conversations",
    tables=(states_table,),
    export=_export_states,
    delete=_delete_states,
)
"""Where the person's conversations stand: flow and step names only, no text."""
