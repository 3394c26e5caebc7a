"""Repositories on real SQLite and, with TEST_POSTGRES_URL, real PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, time

import pytest
from sqlalchemy import text

from core.flows.engine import FlowState
from core.profile import Profile, Situation
from core.storage import Database, StaleStateError, StateRepository, UserRepository
from core.storage.migrate import current_revision
from tests.fakes import person

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


async def test_migrations_reach_head_and_are_idempotent(database: Database) -> None:
    assert await current_revision(database) == "0001"
    await database.migrate()
    assert await current_revision(database) == "0001"


async def test_new_person_gets_an_empty_profile_once(database: Database) -> None:
    sam = person("42")
    async with database.transaction() as connection:
        first = await UserRepository(connection).get_or_create(sam, NOW)
        again = await UserRepository(connection).get_or_create(sam, NOW)
    assert first == again == Profile(user=sam)
    async with database.transaction() as connection:
        count = (await connection.execute(text("SELECT COUNT(*) FROM users"))).scalar_one()
    assert count == 1


async def test_profile_round_trips_every_field(database: Database) -> None:
    sam = person("7")
    saved = Profile(
        user=sam,
        is_adult=True,
        consented=True,
        timezone="Europe/Berlin",
        daily_time=time(7, 30),
        situation=Situation.ON_A_BREAK,
        onboarded_at=NOW,
    )
    async with database.transaction() as connection:
        await UserRepository(connection).get_or_create(sam, NOW)
        await UserRepository(connection).save(saved, NOW)
    async with database.transaction() as connection:
        loaded = await UserRepository(connection).find(sam)
    assert loaded == saved
    assert loaded is not None and loaded.onboarded_at is not None
    assert loaded.onboarded_at.tzinfo is not None


async def test_same_id_on_two_platforms_is_two_people(database: Database) -> None:
    from core.types import Platform

    on_telegram = person("5", platform=Platform.TELEGRAM)
    on_discord = person("5", platform=Platform.DISCORD)
    async with database.transaction() as connection:
        users = UserRepository(connection)
        await users.get_or_create(on_telegram, NOW)
        await users.get_or_create(on_discord, NOW)
        await users.save(Profile(user=on_telegram, timezone="Asia/Tokyo"), NOW)
        assert (await users.find(on_discord)) == Profile(user=on_discord)


async def test_state_versions_grow_and_idle_is_kept(database: Database) -> None:
    key = "u:telegram:1"
    async with database.transaction() as connection:
        states = StateRepository(connection)
        assert (await states.load(key)).version == 0
        v1 = await states.save(key, FlowState("onboarding", "intro"), 0, NOW)
        v2 = await states.save(key, None, v1, NOW)
        loaded = await states.load(key)
    assert (v1, v2) == (1, 2)
    assert loaded.state is None and loaded.version == 2


async def test_stale_writer_is_refused(database: Database) -> None:
    key = "u:telegram:2"
    async with database.transaction() as connection:
        await StateRepository(connection).save(key, FlowState("onboarding", "intro"), 0, NOW)
    # two writers both read version 1; the second must lose
    async with database.transaction() as connection:
        await StateRepository(connection).save(key, FlowState("onboarding", "consent"), 1, NOW)
    with pytest.raises(StaleStateError):
        async with database.transaction() as connection:
            await StateRepository(connection).save(key, FlowState("onboarding", "declined"), 1, NOW)
    async with database.transaction() as connection:
        loaded = await StateRepository(connection).load(key)
    assert loaded.state == FlowState("onboarding", "consent")


async def test_first_write_race_is_refused(database: Database) -> None:
    key = "u:telegram:3"
    async with database.transaction() as connection:
        await StateRepository(connection).save(key, FlowState("settings", "menu"), 0, NOW)
    with pytest.raises(StaleStateError):
        async with database.transaction() as connection:
            await StateRepository(connection).save(key, FlowState("onboarding", "intro"), 0, NOW)


async def test_concurrent_creates_of_one_person_leave_one_row(database: Database) -> None:
    sam = person("99")

    async def create() -> Profile:
        async with database.transaction() as connection:
            return await UserRepository(connection).get_or_create(sam, NOW)

    results = await asyncio.gather(*(create() for _ in range(5)))
    assert all(r == Profile(user=sam) for r in results)
    async with database.transaction() as connection:
        count = (await connection.execute(text("SELECT COUNT(*) FROM users"))).scalar_one()
    assert count == 1


async def test_sqlite_runs_in_wal_with_busy_timeout(sqlite_db: Database) -> None:
    async with sqlite_db.transaction() as connection:
        mode = (await connection.execute(text("PRAGMA journal_mode"))).scalar_one()
        timeout = (await connection.execute(text("PRAGMA busy_timeout"))).scalar_one()
    assert mode == "wal"
    assert timeout >= 1000
