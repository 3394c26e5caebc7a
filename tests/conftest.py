"""Shared fixtures: content, databases (SQLite always, PostgreSQL when configured), service."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings as hypothesis_settings
from sqlalchemy import Connection, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine

from content import CONTENT_DIR
from core.content import Content, load_content
from core.service import CoachService
from core.storage import Database
from core.storage.tables import metadata
from tests.fakes import TEST_CIPHER, FakeClock

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

# Locally hypothesis explores new examples each run; in CI the same ones, so a red build
# always means a change broke something, and any failure prints how to reproduce it.
hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
if IN_CI:
    hypothesis_settings.load_profile("ci")


_LOOPBACK_PREFIXES = ("127.", "::1", "localhost")
_real_connect = socket.socket.connect


def _loopback_only(self: socket.socket, address: Any) -> None:
    """Tests may talk to local servers (PostgreSQL, fake Bot APIs), never to the network."""
    if self.family in (socket.AF_INET, socket.AF_INET6):
        host = str(address[0])
        if not host.startswith(_LOOPBACK_PREFIXES):
            raise OSError(f"test tried to reach the network at {host}")
    _real_connect(self, address)


socket.socket.connect = _loopback_only  # type: ignore[method-assign]


@pytest.fixture(scope="session")
def content() -> Content:
    return load_content(CONTENT_DIR)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


async def _admin_async(url: str, statement: str) -> None:
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


def _admin(url: str, statement: str) -> None:
    """Run one statement outside any transaction, on a loop of its own (fixtures may be async)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, _admin_async(url, statement)).result(timeout=60)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for this test run, dropped at the end.

    Skips when ``TEST_POSTGRES_URL`` is not set; fails instead under ``CI=true``, where the
    server must be there.
    """
    base = os.environ.get("TEST_POSTGRES_URL")
    if not base:
        if IN_CI:
            pytest.fail("CI=true but TEST_POSTGRES_URL is not set")
        pytest.skip("TEST_POSTGRES_URL is not set: PostgreSQL tests need a server")
    name = f"mend_test_{uuid.uuid4().hex[:12]}"
    try:
        _admin(base, f'CREATE DATABASE "{name}"')
    except (OSError, DBAPIError) as exc:
        message = f"PostgreSQL at TEST_POSTGRES_URL is unreachable ({type(exc).__name__}: {exc})"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    yield make_url(base).set(database=name).render_as_string(hide_password=False)
    _admin(base, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def empty_all(connection: Connection) -> None:
    """Delete every row of every table (the PostgreSQL database lives for the whole run)."""
    for table in reversed(metadata.sorted_tables):
        connection.execute(table.delete())


async def _fresh(url: str) -> Database:
    database = Database(url)
    await database.migrate()
    return database


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One SQLite file migrated to the head revision, copied for each test.

    Running every migration costs about 70 ms; copying the file about 1 ms. Each test
    still calls ``migrate()`` on its copy (a no-op at head), so a copy that somehow fell
    behind would still be brought up to date.
    """
    template = tmp_path_factory.mktemp("template") / "mend.db"

    async def build() -> None:
        database = await _fresh(f"sqlite+aiosqlite:///{template}")
        await database.close()

    # In a thread of its own: the first test to ask may already be inside an event loop.
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, build()).result()
    return template


async def _fresh_sqlite(template: Path, path: Path) -> Database:
    shutil.copyfile(template, path)
    return await _fresh(f"sqlite+aiosqlite:///{path}")


@pytest.fixture
async def sqlite_db(tmp_path: Path, migrated_sqlite: Path) -> AsyncIterator[Database]:
    database = await _fresh_sqlite(migrated_sqlite, tmp_path / "mend.db")
    yield database
    await database.close()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """The same tests on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        db = await _fresh_sqlite(request.getfixturevalue("migrated_sqlite"), tmp_path / "mend.db")
    else:
        db = await _fresh(request.getfixturevalue("postgres_url"))

    await db.run(empty_all)
    yield db
    await db.close()


@pytest.fixture
def service(content: Content, sqlite_db: Database, clock: FakeClock) -> CoachService:
    return CoachService(content, sqlite_db, clock, cipher=TEST_CIPHER, default_timezone="UTC")
