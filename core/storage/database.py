"""The database: one unit of work per call, on SQLite or PostgreSQL, with the same code.

Repositories are plain synchronous SQLAlchemy Core code taking a ``Connection``. A unit of
work (a function of one connection) runs in one transaction:

- on PostgreSQL through asyncpg, via ``AsyncConnection.run_sync``: fully asynchronous, many
  units of work at once on the event loop;
- on SQLite in one dedicated worker thread with the standard ``sqlite3`` driver (WAL, busy
  timeout, ``BEGIN IMMEDIATE``). SQLite has a single writer anyway; handing the whole unit
  of work to the thread in one hop, rather than hopping for every cursor call as aiosqlite
  does, made a turn about three times cheaper (see ``bench/RESULTS.md``).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event, exc
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import StaticPool

log = logging.getLogger(__name__)

T = TypeVar("T")
SQLITE_BUSY_TIMEOUT_MS = 5000
SQLITE_DRIVERS = ("sqlite", "sqlite+aiosqlite", "sqlite+pysqlite")


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy, not the driver, decide when transactions begin (see _sqlite_begin).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


_BEGIN = "BEGIN IMMEDIATE"


def _sqlite_begin(connection: Connection) -> None:
    # IMMEDIATE takes the write lock up front, so a read-then-write turn waits its turn
    # (busy timeout) instead of failing half-way when another process wrote in between.
    # Sent to the driver directly: through exec_driver_sql it cost a full statement
    # execution (context, cursor, result) on every unit of work. A failure (the lock not
    # free within the busy timeout) is raised as SQLAlchemy would raise it.
    try:
        connection.connection.driver_connection.execute(_BEGIN)  # type: ignore[union-attr]
    except sqlite3.Error as error:
        raise exc.DBAPIError.instance(_BEGIN, (), error, sqlite3.Error) from error


def _in_memory(url: URL) -> bool:
    return not url.database or url.database == ":memory:"


def _sqlite_url(url: URL) -> URL:
    return url.set(drivername="sqlite+pysqlite")


class Database:
    """Owns the engine for one ``DATABASE_URL`` and runs units of work on it.

    For SQLite files the folder is created on demand.
    """

    def __init__(self, url: str, *, echo: bool = False) -> None:
        parsed = make_url(url)
        self.url = url
        self.dialect = parsed.get_backend_name()
        self._sync: Engine | None = None
        self._async: AsyncEngine | None = None
        self._thread: ThreadPoolExecutor | None = None
        self._held: Connection | None = None
        """The SQLite thread's connection, kept between units of work (only that thread
        touches it)."""
        if parsed.drivername in SQLITE_DRIVERS:
            if parsed.database and not _in_memory(parsed):
                Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
            # One connection, used by the SQLite thread alone. In memory, the database
            # lives in that connection, so the pool must keep it (StaticPool).
            pool: dict[str, Any] = (
                {"poolclass": StaticPool}
                if _in_memory(parsed)
                else {"pool_size": 1, "max_overflow": 0}
            )
            self._sync = create_engine(_sqlite_url(parsed), echo=echo, **pool)
            event.listen(self._sync, "connect", _sqlite_connect)
            event.listen(self._sync, "begin", _sqlite_begin)
            self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mend-sqlite")
        else:
            self._async = create_async_engine(url, echo=echo, pool_pre_ping=True)

    async def run(self, work: Callable[[Connection], T]) -> T:
        """Run ``work`` in one transaction: committed if it returns, rolled back if it raises."""
        if self._async is not None:
            async with self._async.begin() as connection:
                return await connection.run_sync(work)
        assert self._sync is not None and self._thread is not None
        return await asyncio.get_running_loop().run_in_executor(self._thread, self._in_thread, work)

    def _in_thread(self, work: Callable[[Connection], T]) -> T:
        """One unit of work on the SQLite thread's connection.

        The connection stays open between units: checking one out of the pool and back
        in for every unit cost more than a short unit itself. After a failure it goes back
        to the pool, which rolls it back, so the next unit starts clean. (SQLAlchemy decides
        whether a connection logs its statements when it opens: turn the
        ``sqlalchemy.engine`` logger up before the first unit of work.)
        """
        assert self._sync is not None
        connection = self._held
        if connection is None:
            connection = self._held = self._sync.connect()
        try:
            with connection.begin():
                return work(connection)
        except BaseException:
            self._held = None
            connection.close()
            raise

    def _release(self) -> None:
        """Close the held connection and the engine's pool (on the SQLite thread)."""
        if self._held is not None:
            self._held.close()
            self._held = None
        if self._sync is not None:
            self._sync.dispose()

    async def migrate(self) -> None:
        """Bring the schema up to date (Alembic ``upgrade head``)."""
        from core.storage.migrate import upgrade

        await self.run(upgrade)

    async def close(self) -> None:
        """Release every connection and the SQLite worker thread."""
        if self._async is not None:
            await self._async.dispose()
        if self._sync is not None and self._thread is not None:
            await asyncio.get_running_loop().run_in_executor(self._thread, self._release)
            self._thread.shutdown(wait=True)
