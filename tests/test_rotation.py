"""Key rotation on real SQLite and, with TEST_POSTGRES_URL, real PostgreSQL; and the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import (
    Column,
    Connection,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    insert,
    select,
)

from core.crypto import Cipher, CipherError, generate_key
from core.settings import Settings
from core.storage import Database, rotation
from core.storage.rotation import encrypted_columns, rotate_all
from core.storage.tables import metadata as mend_metadata

KEY_A = generate_key()
KEY_B = generate_key()
ENCRYPTED = {"encrypted": True}


class Schema:
    """A test-only schema with uniquely named tables: one by id, one by a two-column key."""

    def __init__(self) -> None:
        suffix = uuid.uuid4().hex[:8]
        self.metadata = MetaData()
        self.notes = Table(
            f"rot_notes_{suffix}",
            self.metadata,
            Column("id", Integer, primary_key=True, autoincrement=False),
            Column("title", String(50), nullable=True),
            Column("body", Text, nullable=True, info=ENCRYPTED),
            Column("draft", Text, nullable=True, info=ENCRYPTED),
        )
        self.pairs = Table(
            f"rot_pairs_{suffix}",
            self.metadata,
            Column("owner", String(20), primary_key=True),
            Column("n", Integer, primary_key=True),
            Column("text", Text, nullable=False, info=ENCRYPTED),
        )


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def db_and_schema(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[Database, Schema]]:
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'rotation.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    database = Database(url)
    schema = Schema()
    await database.run(schema.metadata.create_all)
    yield database, schema
    await database.run(schema.metadata.drop_all)
    await database.close()


def fill(connection: Connection, schema: Schema, cipher: Cipher, count: int) -> None:
    connection.execute(
        insert(schema.notes),
        [
            {
                "id": i,
                "title": f"title {i}",
                "body": cipher.seal(f"body {i} ✨"),
                "draft": None if i % 3 == 0 else cipher.seal(f"draft {i}"),
            }
            for i in range(count)
        ],
    )
    connection.execute(
        insert(schema.pairs),
        [
            {"owner": owner, "n": n, "text": cipher.seal(f"{owner} {n}")}
            for owner in ("ana", "ben", "cy")
            for n in range(count // 3)
        ],
    )


def everything(connection: Connection, schema: Schema, cipher: Cipher) -> list[tuple[Any, ...]]:
    notes = connection.execute(select(schema.notes).order_by(schema.notes.c.id)).all()
    pairs = connection.execute(select(schema.pairs).order_by("owner", "n")).all()
    return [
        (row.id, row.title, cipher.open(row.body), row.draft and cipher.open(row.draft))
        for row in notes
    ] + [(row.owner, row.n, cipher.open(row.text)) for row in pairs]


def test_encrypted_columns_finds_the_marked_ones() -> None:
    schema = Schema()
    found = [f"{c.table.name}.{c.name}" for c in encrypted_columns(schema.metadata)]
    assert sorted(found) == sorted(
        [f"{schema.notes.name}.body", f"{schema.notes.name}.draft", f"{schema.pairs.name}.text"]
    )


async def test_rotation_to_a_new_key_keeps_everything_readable(
    db_and_schema: tuple[Database, Schema], monkeypatch: pytest.MonkeyPatch
) -> None:
    database, schema = db_and_schema
    monkeypatch.setattr(rotation, "BATCH_SIZE", 7)  # many batches, and a partial last one
    old, both, new = Cipher([KEY_A]), Cipher([KEY_B, KEY_A]), Cipher([KEY_B])
    await database.run(lambda c: fill(c, schema, old, 30))
    before = await database.run(lambda c: everything(c, schema, old))
    with pytest.raises(CipherError):
        await database.run(lambda c: everything(c, schema, new))

    count = await database.run(lambda c: rotate_all(c, both, schema.metadata))

    assert count == 30 + 20 + 30  # bodies, non-NULL drafts, pairs
    assert await database.run(lambda c: everything(c, schema, new)) == before
    with pytest.raises(CipherError):
        await database.run(lambda c: everything(c, schema, old))
    assert await database.run(lambda c: rotate_all(c, both, schema.metadata)) == 0
    assert await database.run(lambda c: rotate_all(c, new, schema.metadata)) == 0


async def test_an_unreadable_value_rolls_the_whole_rotation_back(
    db_and_schema: tuple[Database, Schema],
) -> None:
    database, schema = db_and_schema
    old = Cipher([KEY_A])
    await database.run(lambda c: fill(c, schema, old, 9))
    stranger = Cipher([generate_key()]).seal("someone else's secret")

    def plant(connection: Connection) -> None:
        connection.execute(
            schema.notes.update().where(schema.notes.c.id == 5).values(draft=stranger)
        )

    await database.run(plant)
    tokens_before = await database.run(lambda c: c.execute(select(schema.notes)).all())

    with pytest.raises(CipherError) as caught:
        await database.run(lambda c: rotate_all(c, Cipher([KEY_B, KEY_A]), schema.metadata))

    assert f"{schema.notes.name}.draft" in str(caught.value)
    assert "secret" not in str(caught.value)
    assert await database.run(lambda c: c.execute(select(schema.notes)).all()) == tokens_before


def test_mends_encrypted_columns_can_be_rotated() -> None:
    columns = encrypted_columns()
    assert columns == encrypted_columns(mend_metadata)
    for column in columns:
        assert column.table.primary_key.columns, f"{column.table.name} needs a primary key"


# ---------------------------------------------------------------- mend rotate-keys


SETTING_NAMES = [name.upper() for name in Settings.model_fields]


def mend(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k.upper() not in SETTING_NAMES}
    clean["DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path / 'mend.db'}"
    clean.update(env)
    return subprocess.run(
        [sys.executable, "-m", "bots", *args],
        cwd=tmp_path,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def plain_value(column: Column[Any], i: int) -> Any:
    try:
        kind = column.type.python_type
    except NotImplementedError:
        return None
    if kind is bool:
        return False
    if kind is int:
        return i + 1
    if kind is datetime:
        return datetime(2026, 1, 1, tzinfo=UTC)
    if kind is str:
        return f"v{i}"[: getattr(column.type, "length", None) or 20]
    return None


def seal_rows(db: Path, cipher: Cipher, per_column: int, *, bad: bool = False) -> int:
    """Put sealed values in every encrypted column of Mend's schema, straight into the file.

    Foreign keys are not enforced on this plain connection, so other tables stay empty.
    """
    engine = create_engine(f"sqlite:///{db}")
    written = 0
    with engine.begin() as connection:
        for table in {column.table for column in encrypted_columns()}:
            assert isinstance(table, Table)
            rows = []
            for i in range(per_column):
                row: dict[str, Any] = {}
                for column in table.columns:
                    if column.info.get("encrypted"):
                        row[column.name] = cipher.seal(f"{column.name} {i} secret")
                        written += 1
                    elif column is not table.autoincrement_column:
                        row[column.name] = plain_value(column, i)
                rows.append(row)
            if bad and rows:
                first = next(c for c in table.columns if c.info.get("encrypted"))
                rows[-1][first.name] = "gAAAAAnot-a-token"
            connection.execute(insert(table), rows)
    engine.dispose()
    return written


def read_all(db: Path, cipher: Cipher) -> list[str]:
    engine = create_engine(f"sqlite:///{db}")
    with engine.connect() as connection:
        found = [
            cipher.open(value)
            for column in encrypted_columns()
            for value in connection.execute(select(column).where(column.is_not(None))).scalars()
        ]
    engine.dispose()
    return found


def read_column(connection: Connection, column: Column[Any]) -> list[Any]:
    keys = list(column.table.primary_key.columns)
    return list(connection.execute(select(column).order_by(*keys)).scalars())


needs_encrypted_columns = pytest.mark.skipif(
    not encrypted_columns(), reason="Mend's schema has no encrypted column yet"
)


@pytest.mark.slow
@needs_encrypted_columns
def test_cli_rotates_every_value_to_the_first_key(tmp_path: Path) -> None:
    first = mend(tmp_path, "rotate-keys", MEND_ENCRYPTION_KEYS=KEY_A)
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("re-encrypted 0 values under the first key")
    written = seal_rows(tmp_path / "mend.db", Cipher([KEY_A]), 4)
    before = read_all(tmp_path / "mend.db", Cipher([KEY_A]))

    done = mend(tmp_path, "rotate-keys", MEND_ENCRYPTION_KEYS=f"{KEY_B},{KEY_A}")

    assert done.returncode == 0, done.stderr
    assert done.stdout == (
        f"re-encrypted {written} values under the first key; "
        "keys after the first can now be removed\n"
    )
    assert "Traceback" not in done.stderr
    assert read_all(tmp_path / "mend.db", Cipher([KEY_B])) == before
    again = mend(tmp_path, "rotate-keys", MEND_ENCRYPTION_KEYS=KEY_B)
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith("re-encrypted 0 values")


@pytest.mark.slow
@needs_encrypted_columns
def test_cli_a_value_no_key_opens_is_one_line_exit_2_and_nothing_changes(tmp_path: Path) -> None:
    assert mend(tmp_path, "rotate-keys", MEND_ENCRYPTION_KEYS=KEY_A).returncode == 0
    seal_rows(tmp_path / "mend.db", Cipher([KEY_A]), 3, bad=True)
    engine = create_engine(f"sqlite:///{tmp_path / 'mend.db'}")
    snapshot = tuple(encrypted_columns())
    with engine.connect() as connection:
        before = [read_column(connection, c) for c in snapshot]

    done = mend(tmp_path, "rotate-keys", MEND_ENCRYPTION_KEYS=f"{KEY_B},{KEY_A}")

    assert done.returncode == 2
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("mend: a value in ") and "cannot be decrypted" in lines[0]
    assert "Traceback" not in done.stderr and done.stdout == ""
    assert "secret" not in done.stderr
    with engine.connect() as connection:
        assert [read_column(connection, c) for c in snapshot] == before
    engine.dispose()


@pytest.mark.slow
def test_cli_with_the_key_file_makes_it_once_and_never_prints_the_key(tmp_path: Path) -> None:
    done = mend(tmp_path, "rotate-keys")
    assert done.returncode == 0, done.stderr
    key_file = tmp_path / "mend.db.key"
    assert done.stdout.startswith("re-encrypted 0 values")
    assert str(key_file) in done.stderr and "back it up" in done.stderr
    key = key_file.read_text().splitlines()[-1]
    assert key not in done.stderr + done.stdout
    again = mend(tmp_path, "rotate-keys")
    assert again.returncode == 0, again.stderr
    assert str(key_file) not in again.stderr


@pytest.mark.slow
def test_cli_postgresql_without_keys_is_one_line_exit_2(tmp_path: Path) -> None:
    done = mend(
        tmp_path,
        "rotate-keys",
        DATABASE_URL="postgresql+asyncpg://mend:pw@127.0.0.1:9/mend",
    )
    assert done.returncode == 2
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("mend: setting MEND_ENCRYPTION_KEYS: ")
    assert "Traceback" not in done.stderr


@pytest.mark.slow
def test_cli_help_explains_rotation_with_a_key_file(tmp_path: Path) -> None:
    done = mend(tmp_path, "rotate-keys", "--help")
    assert done.returncode == 0
    assert "first line" in done.stdout and "MEND_ENCRYPTION_KEYS" in done.stdout
