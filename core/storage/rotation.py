"""Key rotation: re-encrypt every encrypted column's values under the cipher's first key.

A column is encrypted when it is declared with ``info={"encrypted": True}``; repositories
store :meth:`core.crypto.Cipher.seal` tokens in it. ``mend rotate-keys`` runs
:func:`rotate_all` in one transaction, so a value that no key opens rolls everything back.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, Connection, MetaData, Table, and_, bindparam, select, tuple_, update
from sqlalchemy.sql.elements import ColumnElement

from core.crypto import Cipher, CipherError
from core.storage.tables import metadata as mend_metadata

BATCH_SIZE = 500


def encrypted_columns(metadata: MetaData = mend_metadata) -> list[Column[Any]]:
    """Every column marked ``info={"encrypted": True}``, table by table in dependency order.

    Args:
        metadata: The tables to look through; Mend's own by default.

    Returns:
        The marked columns.
    """
    return [
        column
        for table in metadata.sorted_tables
        for column in table.columns
        if column.info.get("encrypted")
    ]


def rotate_all(connection: Connection, cipher: Cipher, metadata: MetaData = mend_metadata) -> int:
    """Re-encrypt every non-NULL value of every encrypted column under ``cipher``'s first key.

    Values already under the first key are left alone, so running it again changes nothing.
    Rows are read and written in batches of ``BATCH_SIZE`` by primary key; a row is only
    rewritten if it still holds the token that was read.

    Args:
        connection: A connection inside a transaction (``Database.run`` gives one).
        cipher: The keys: the first encrypts, every key decrypts.
        metadata: The tables to rotate; Mend's own by default.

    Returns:
        How many values were re-encrypted.

    Raises:
        CipherError: a value that no key opens; the message names its table and column.
        ValueError: an encrypted column in a table without a primary key.
    """
    return sum(_rotate_column(connection, cipher, column) for column in encrypted_columns(metadata))


def _rotate_column(connection: Connection, cipher: Cipher, column: Column[Any]) -> int:
    table = column.table
    assert isinstance(table, Table)
    keys = list(table.primary_key.columns)
    if not keys:
        raise ValueError(
            f"{table.name}.{column.name} is encrypted but its table has no primary key"
        )
    names = [f"rotation_pk_{i}" for i in range(len(keys))]
    rewrite = (
        update(table)
        .where(
            and_(
                *(key == bindparam(name) for key, name in zip(keys, names, strict=True)),
                column == bindparam("rotation_old"),
            )
        )
        .values({column: bindparam("rotation_new")})
    )
    rotated = 0
    after: tuple[Any, ...] | None = None
    while True:
        query = select(*keys, column).where(column.is_not(None)).order_by(*keys).limit(BATCH_SIZE)
        if after is not None:
            query = query.where(_after(keys, after))
        rows = connection.execute(query).all()
        if not rows:
            return rotated
        changes = []
        for row in rows:
            *pk, token = row
            if cipher.is_current(token):
                continue
            try:
                fresh = cipher.rotate(token)
            except CipherError:
                raise CipherError(
                    f"a value in {table.name}.{column.name} cannot be decrypted with any "
                    "configured key"
                ) from None
            changes.append(
                {**dict(zip(names, pk, strict=True)), "rotation_old": token, "rotation_new": fresh}
            )
        if changes:
            connection.execute(rewrite, changes)
            rotated += len(changes)
        if len(rows) < BATCH_SIZE:
            return rotated
        after = tuple(rows[-1])[:-1]


def _after(keys: list[Column[Any]], last: tuple[Any, ...]) -> ColumnElement[bool]:
    if len(keys) == 1:
        single: ColumnElement[bool] = keys[0] > last[0]
        return single
    later: ColumnElement[bool] = tuple_(*keys) > tuple_(*last)
    return later
