"""BulkWrite: rows handed to the driver as they are, on every parameter style."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import (
    Column,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
    bindparam,
    create_engine,
    event,
    select,
    update,
)

from core.storage.bulk_write import BulkWrite
from core.storage.column_types import UtcDateTime
from core.storage.repositories import insert_ignoring_conflicts

metadata = MetaData()
things = Table(
    "things",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(20), nullable=False),
    Column("size", Integer, nullable=True),
    Column("at", UtcDateTime(), nullable=True),
    UniqueConstraint("name"),
)
BERLIN_SUMMER = timezone(timedelta(hours=2))


@pytest.mark.parametrize("paramstyle", ["qmark", "named"])
@pytest.mark.parametrize("keys", [("name", "size", "at"), ("at", "name", "size")])
def test_rows_land_in_their_columns_whatever_the_order_and_style(
    paramstyle: str, keys: tuple[str, ...]
) -> None:
    engine = create_engine("sqlite://", paramstyle=paramstyle)
    metadata.create_all(engine)
    bulk = BulkWrite(things, insert_ignoring_conflicts(things), keys)
    at = datetime(2026, 3, 29, 9, 30, tzinfo=BERLIN_SUMMER)
    given: list[dict[str, Any]] = [
        {"name": "first", "size": 1, "at": at},
        {"name": "second", "size": None, "at": None},
        {"name": "first", "size": 99, "at": None},  # a duplicate: ignored, not an error
    ]
    with engine.begin() as connection:
        binders = [bulk.binder(connection.dialect, key) for key in keys]
        rows = [tuple(b(row[k]) for b, k in zip(binders, keys, strict=True)) for row in given]
        bulk.run(connection, rows)
        bulk.run(connection, [])  # nothing to do
        stored = connection.execute(
            select(things.c.name, things.c.size, things.c.at).order_by(things.c.id)
        ).all()
    assert [tuple(r) for r in stored] == [
        ("first", 1, datetime(2026, 3, 29, 7, 30, tzinfo=UTC)),
        ("second", None, None),
    ]
    assert stored[0].at == at  # the same instant, read back in UTC


def test_sqlite_instants_are_stored_as_sqlalchemy_stores_them() -> None:
    engine = create_engine("sqlite://")
    metadata.create_all(engine)
    bulk = BulkWrite(things, insert_ignoring_conflicts(things), ("name", "at"))
    with engine.begin() as connection:
        instant = bulk.binder(connection.dialect, "at")
        naive = instant(datetime(2026, 1, 2, 3, 4, 5, 6))
        aware = instant(datetime(2026, 1, 2, 5, 4, 5, 6, tzinfo=timezone(timedelta(hours=2))))
        bulk.run(connection, [("naive", naive), ("aware", aware)])
        raw = connection.exec_driver_sql("SELECT at FROM things ORDER BY id").scalars().all()
    assert raw == ["2026-01-02 03:04:05.000006", "2026-01-02 03:04:05.000006"]


def test_one_insert_serves_drivers_with_different_parameter_styles() -> None:
    bulk = BulkWrite(things, insert_ignoring_conflicts(things), ("name", "size"))
    for paramstyle, marker in (("qmark", "?"), ("named", ":name"), ("qmark", "?")):
        engine = create_engine("sqlite://", paramstyle=paramstyle)
        metadata.create_all(engine)
        sent: list[str] = []

        @event.listens_for(engine, "before_cursor_execute")
        def record(*args: Any, sent: list[str] = sent) -> None:
            sent.append(args[2])  # the statement as the driver receives it

        with engine.begin() as connection:
            bulk.run(connection, [(paramstyle, 3)])
            stored = connection.execute(select(things.c.name, things.c.size)).all()
        assert [tuple(r) for r in stored] == [(paramstyle, 3)]
        inserts = [sql for sql in sent if sql.startswith("INSERT")]
        assert len(inserts) == 1 and marker in inserts[0]


@pytest.mark.parametrize("paramstyle", ["qmark", "named"])
@pytest.mark.parametrize("keys", [("b_at", "b_id"), ("b_id", "b_at")])
def test_an_update_binds_its_own_names_through_the_columns_they_set(
    paramstyle: str, keys: tuple[str, str]
) -> None:
    engine = create_engine("sqlite://", paramstyle=paramstyle)
    metadata.create_all(engine)
    statement = update(things).where(things.c.id == bindparam("b_id")).values(at=bindparam("b_at"))
    move = BulkWrite(things, {"sqlite": statement}, keys, columns={"b_at": "at", "b_id": "id"})
    later = datetime(2026, 10, 25, 9, 30, tzinfo=BERLIN_SUMMER)
    with engine.begin() as connection:
        connection.execute(things.insert(), [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}])
        instant = move.binder(connection.dialect, "b_at")
        given = [{"b_at": instant(later), "b_id": 2}, {"b_at": instant(None), "b_id": 1}]
        move.run(connection, [tuple(row[key] for key in keys) for row in given])
        stored = connection.execute(select(things.c.id, things.c.at).order_by(things.c.id)).all()
    assert [tuple(r) for r in stored] == [(1, None), (2, datetime(2026, 10, 25, 7, 30, tzinfo=UTC))]
