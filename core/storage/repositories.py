"""Repositories: SQL in, core dataclasses out. Each takes the connection of one transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time
from typing import Any

from sqlalchemy import Insert, Table, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from core.flows.engine import FlowState
from core.profile import Profile, Situation
from core.storage.tables import conversation_states, users
from core.types import UserRef


class StaleStateError(Exception):
    """Another writer changed the conversation state since it was read."""


@dataclass(frozen=True, slots=True)
class VersionedState:
    """A conversation state as read, with the version a later write must match."""

    state: FlowState | None
    version: int


def _insert_ignoring_conflicts(connection: AsyncConnection, table: Table, **values: Any) -> Insert:
    if connection.dialect.name == "postgresql":
        return postgresql.insert(table).values(**values).on_conflict_do_nothing()
    return sqlite.insert(table).values(**values).on_conflict_do_nothing()


def _aware(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def _time(value: str | None) -> time | None:
    if not value:
        return None
    hour, minute = value.split(":")
    return time(int(hour), int(minute))


_PROFILE_COLUMNS = (
    users.c.is_adult,
    users.c.consented,
    users.c.timezone,
    users.c.daily_time,
    users.c.situation,
    users.c.onboarded_at,
)


class UserRepository:
    """People and their set-up answers."""

    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def find(self, user: UserRef) -> Profile | None:
        """Return the stored profile of ``user``, or None if they never talked to Mend."""
        row = (
            await self._connection.execute(
                select(*_PROFILE_COLUMNS).where(
                    users.c.platform == user.platform.value,
                    users.c.platform_user_id == user.user_id,
                )
            )
        ).first()
        if row is None:
            return None
        return Profile(
            user=user,
            is_adult=row.is_adult,
            consented=bool(row.consented),
            timezone=row.timezone,
            daily_time=_time(row.daily_time),
            situation=Situation(row.situation) if row.situation else None,
            onboarded_at=_aware(row.onboarded_at),
        )

    async def get_or_create(self, user: UserRef, now: datetime) -> Profile:
        """Return the profile of ``user``, creating an empty one the first time."""
        found = await self.find(user)
        if found is not None:
            return found
        await self._connection.execute(
            _insert_ignoring_conflicts(
                self._connection,
                users,
                platform=user.platform.value,
                platform_user_id=user.user_id,
                consented=False,
                created_at=now,
                updated_at=now,
            )
        )
        return Profile(user=user)

    async def save(self, profile: Profile, now: datetime) -> None:
        """Store every field of ``profile``."""
        await self._connection.execute(
            update(users)
            .where(
                users.c.platform == profile.user.platform.value,
                users.c.platform_user_id == profile.user.user_id,
            )
            .values(
                is_adult=profile.is_adult,
                consented=profile.consented,
                timezone=profile.timezone,
                daily_time=(
                    f"{profile.daily_time.hour:02d}:{profile.daily_time.minute:02d}"
                    if profile.daily_time
                    else None
                ),
                situation=profile.situation.value if profile.situation else None,
                onboarded_at=profile.onboarded_at,
                updated_at=now,
            )
        )


class StateRepository:
    """Conversation states by scope key, with optimistic versioning."""

    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def load(self, key: str) -> VersionedState:
        """Return the state under ``key``; a key never written is idle at version 0."""
        row = (
            await self._connection.execute(
                select(
                    conversation_states.c.flow,
                    conversation_states.c.step,
                    conversation_states.c.version,
                ).where(conversation_states.c.key == key)
            )
        ).first()
        if row is None:
            return VersionedState(None, 0)
        state = FlowState(row.flow, row.step) if row.flow and row.step else None
        return VersionedState(state, row.version)

    async def save(
        self, key: str, state: FlowState | None, expected_version: int, now: datetime
    ) -> int:
        """Write ``state`` (None for idle) if the stored version is still ``expected_version``.

        Returns:
            The new version.

        Raises:
            StaleStateError: when another writer got there first.
        """
        flow, step = (state.flow, state.step) if state else (None, None)
        new_version = expected_version + 1
        if expected_version == 0:
            statement: Any = _insert_ignoring_conflicts(
                self._connection,
                conversation_states,
                key=key,
                flow=flow,
                step=step,
                version=new_version,
                updated_at=now,
            )
        else:
            statement = (
                update(conversation_states)
                .where(
                    conversation_states.c.key == key,
                    conversation_states.c.version == expected_version,
                )
                .values(flow=flow, step=step, version=new_version, updated_at=now)
            )
        result = await self._connection.execute(statement)
        if result.rowcount != 1:
            raise StaleStateError(key)
        return new_version
