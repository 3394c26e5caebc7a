"""Repositories on real SQLite and, with TEST_POSTGRES_URL, real PostgreSQL."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
from datetime import UTC, datetime, time
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, exc, text

from core.flows.engine import FlowState
from core.profile import Profile, Situation
from core.storage import Database, StaleStateError, StateRepository, UserRepository, load_turn
from core.storage.migrate import current_revision
from core.storage.tables import metadata
from core.types import Platform
from tests.fakes import person

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def count_users(connection: Connection) -> int:
    return int(connection.execute(text("SELECT COUNT(*) FROM users")).scalar_one())


async def test_migrations_reach_head_and_are_idempotent(database: Database) -> None:
    assert await database.run(current_revision) == "0005"
    await database.migrate()
    assert await database.run(current_revision) == "0005"


async def test_migrated_schema_matches_the_table_definitions(database: Database) -> None:
    def differences(connection: Connection) -> list[object]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))

    assert await database.run(differences) == []


async def test_new_person_gets_an_empty_profile_once(database: Database) -> None:
    sam = person("42")

    def twice(connection: Connection) -> tuple[Profile, Profile]:
        users = UserRepository(connection)
        return users.get_or_create(sam, NOW), users.get_or_create(sam, NOW)

    first, again = await database.run(twice)
    assert first == again == Profile(user=sam)
    assert await database.run(count_users) == 1


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

    def store(connection: Connection) -> None:
        UserRepository(connection).get_or_create(sam, NOW)
        UserRepository(connection).save(saved, NOW)

    await database.run(store)
    loaded = await database.run(lambda c: UserRepository(c).find(sam))
    assert loaded == saved
    assert loaded is not None and loaded.onboarded_at is not None
    assert loaded.onboarded_at.tzinfo is not None


async def test_same_id_on_two_platforms_is_two_people(database: Database) -> None:
    on_telegram = person("5", platform=Platform.TELEGRAM)
    on_discord = person("5", platform=Platform.DISCORD)

    def work(connection: Connection) -> Profile | None:
        users = UserRepository(connection)
        users.get_or_create(on_telegram, NOW)
        users.get_or_create(on_discord, NOW)
        users.save(Profile(user=on_telegram, timezone="Asia/Tokyo"), NOW)
        return users.find(on_discord)

    assert await database.run(work) == Profile(user=on_discord)


async def test_load_turn_reads_profile_and_state_together(database: Database) -> None:
    sam = person("8")
    key = "u:telegram:8"

    def first_contact(connection: Connection) -> tuple[Profile, int]:
        profile, stored = load_turn(connection, sam, key, NOW)
        return profile, stored.version

    assert await database.run(first_contact) == (Profile(user=sam), 0)
    assert await database.run(count_users) == 1

    def later(connection: Connection) -> tuple[Profile, FlowState | None, int]:
        StateRepository(connection).save(key, FlowState("onboarding", "consent"), 0, NOW)
        UserRepository(connection).save(Profile(user=sam, is_adult=True), NOW)
        profile, stored = load_turn(connection, sam, key, NOW)
        return profile, stored.state, stored.version

    profile, state, version = await database.run(later)
    assert profile.is_adult is True
    assert (state, version) == (FlowState("onboarding", "consent"), 1)
    other = await database.run(lambda c: load_turn(c, sam, "u:telegram:other", NOW)[1].version)
    assert other == 0


async def test_state_versions_grow_and_idle_is_kept(database: Database) -> None:
    key = "u:telegram:1"

    def work(connection: Connection) -> tuple[int, int, int]:
        states = StateRepository(connection)
        before = states.load(key).version
        v1 = states.save(key, FlowState("onboarding", "intro"), before, NOW)
        v2 = states.save(key, None, v1, NOW)
        loaded = states.load(key)
        assert loaded.state is None
        return before, v1, v2

    assert await database.run(work) == (0, 1, 2)


async def test_stale_writer_is_refused_and_rolled_back(database: Database) -> None:
    key = "u:telegram:2"
    await database.run(
        lambda c: StateRepository(c).save(key, FlowState("onboarding", "intro"), 0, NOW)
    )
    # two writers both read version 1; the second must lose
    await database.run(
        lambda c: StateRepository(c).save(key, FlowState("onboarding", "consent"), 1, NOW)
    )

    def stale(connection: Connection) -> None:
        UserRepository(connection).get_or_create(person("2"), NOW)
        StateRepository(connection).save(key, FlowState("onboarding", "declined"), 1, NOW)

    with pytest.raises(StaleStateError):
        await database.run(stale)
    loaded = await database.run(lambda c: StateRepository(c).load(key))
    assert loaded.state == FlowState("onboarding", "consent")
    assert await database.run(count_users) == 0  # the losing transaction left nothing behind


async def test_first_write_race_is_refused(database: Database) -> None:
    key = "u:telegram:3"
    await database.run(
        lambda c: StateRepository(c).save(key, FlowState("settings", "menu"), 0, NOW)
    )
    with pytest.raises(StaleStateError):
        await database.run(
            lambda c: StateRepository(c).save(key, FlowState("onboarding", "intro"), 0, NOW)
        )


async def test_concurrent_creates_of_one_person_leave_one_row(database: Database) -> None:
    sam = person("99")
    results = await asyncio.gather(
        *(database.run(lambda c: UserRepository(c).get_or_create(sam, NOW)) for _ in range(5))
    )
    assert all(r == Profile(user=sam) for r in results)
    assert await database.run(count_users) == 1


async def test_sqlite_runs_in_wal_with_busy_timeout(sqlite_db: Database) -> None:
    def pragmas(connection: Connection) -> tuple[str, int]:
        mode = connection.execute(text("PRAGMA journal_mode")).scalar_one()
        timeout = connection.execute(text("PRAGMA busy_timeout")).scalar_one()
        return str(mode), int(timeout)

    mode, timeout = await sqlite_db.run(pragmas)
    assert mode == "wal"
    assert timeout >= 1000


async def test_sqlite_unit_that_fails_leaves_nothing_behind_for_the_next(
    sqlite_db: Database,
) -> None:
    """The SQLite thread keeps its connection between units; a failure must not taint it."""

    class BrokenError(Exception):
        pass

    def half_done(connection: Connection) -> None:
        UserRepository(connection).get_or_create(person("7"), NOW)
        raise BrokenError

    with pytest.raises(BrokenError):
        await sqlite_db.run(half_done)
    assert await sqlite_db.run(count_users) == 0, "the failed unit was rolled back"
    await sqlite_db.run(lambda c: UserRepository(c).get_or_create(person("8"), NOW))
    assert await sqlite_db.run(count_users) == 1


async def test_sqlite_unit_of_work_holds_the_write_lock_from_its_start(
    sqlite_db: Database, tmp_path: Path
) -> None:
    """BEGIN IMMEDIATE: another writer cannot slip in between a unit's read and its write."""
    path = tmp_path / "mend.db"

    def other_writer_blocked(connection: Connection) -> bool:
        other = sqlite3.connect(path, timeout=0, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            return "locked" in str(exc)
        finally:
            other.close()
        return False

    assert await sqlite_db.run(other_writer_blocked)


async def test_sqlite_unit_that_fails_at_commit_leaves_the_next_one_working(
    sqlite_db: Database, tmp_path: Path
) -> None:
    """A failure at COMMIT must leave the kept connection neither in a transaction nor locked."""

    def orphan(connection: Connection) -> None:
        connection.execute(text("PRAGMA defer_foreign_keys=ON"))  # checked only at COMMIT
        connection.execute(
            text(
                "INSERT INTO subscriptions (user_id, kind, timezone, local_time, active) "
                "VALUES (424242, 'morning', 'UTC', '09:00', 0)"
            )
        )

    with pytest.raises(exc.IntegrityError):
        await sqlite_db.run(orphan)
    await sqlite_db.run(lambda c: UserRepository(c).get_or_create(person("9"), NOW))
    assert await sqlite_db.run(count_users) == 1
    other = sqlite3.connect(tmp_path / "mend.db", timeout=0, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # the write lock was let go
        other.execute("ROLLBACK")
    finally:
        other.close()


async def test_sqlite_lock_not_free_in_time_is_a_clear_error_and_passes(
    migrated_sqlite: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process holding the write lock past the busy timeout: an error, then recovery."""
    monkeypatch.setattr("core.storage.database.SQLITE_BUSY_TIMEOUT_MS", 50)
    path = tmp_path / "locked.db"
    shutil.copyfile(migrated_sqlite, path)
    database = Database(f"sqlite+aiosqlite:///{path}")
    await database.migrate()
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        with pytest.raises(exc.OperationalError, match="locked"):
            await database.run(count_users)
        holder.execute("ROLLBACK")
        assert await database.run(count_users) == 0
    finally:
        holder.close()
        await database.close()


@pytest.mark.parametrize("url", ["sqlite+aiosqlite://", "sqlite:///:memory:"])
async def test_sqlite_in_memory_keeps_its_data_between_units(url: str) -> None:
    database = Database(url)
    try:
        await database.migrate()
        await database.run(lambda c: UserRepository(c).get_or_create(person("5"), NOW))
        assert await database.run(count_users) == 1
    finally:
        await database.close()
