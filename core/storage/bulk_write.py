"""Bulk writes handed to the driver as rows of plain values, for the scheduler's hot path.

SQLAlchemy's ``executemany`` builds and converts a parameter dictionary per row, which
cost more than the write itself when the tick queues hundreds of sends per transaction
(see ``bench/RESULTS.md``). A :class:`BulkWrite` compiles its statement once per
dialect, the caller converts each distinct value once with :meth:`BulkWrite.binder` (a
popular slot shares its instants), and the rows go to the driver as they are.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Dialect, Insert, Table, Update

__all__ = ["BulkWrite"]


def _same(value: Any) -> Any:
    return value


def _kind(dialect: Dialect) -> tuple[str, str, str]:
    """What compiled SQL and converted values depend on: the database, driver and style."""
    return (dialect.name, dialect.driver, dialect.paramstyle)


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    order: tuple[int, ...] | None
    """Where each positional parameter comes from in a row; None when it is the row's own
    order; empty for drivers that take named parameters."""
    named: bool


class BulkWrite:
    """One ``INSERT`` or ``UPDATE`` on ``table``, per dialect, run with plain rows.

    Args:
        table: the table the statements write (for the columns' types).
        statements: the statement for each dialect name (say, an insert with ``ON
            CONFLICT DO NOTHING`` spelled for each).
        keys: the values every row gives, in the order rows give them: column names for
            an insert, bound parameter names for an update.
        columns: for a key that is not a column name, the column whose type converts it.
    """

    def __init__(
        self,
        table: Table,
        statements: Mapping[str, Insert | Update],
        keys: Sequence[str],
        columns: Mapping[str, str] | None = None,
    ):
        self.table = table
        self.keys = tuple(keys)
        self._statements = statements
        self._columns = dict(columns or {})
        self._compiled: dict[tuple[str, str, str], _Compiled] = {}
        self._binders: dict[tuple[tuple[str, str, str], str], Callable[[Any], Any]] = {}

    def binder(self, dialect: Dialect, key: str) -> Callable[[Any], Any]:
        """What turns a Python value for ``key`` into the driver's value (by its column's type)."""
        found = self._binders.get((_kind(dialect), key))
        if found is None:
            column_type = self.table.c[self._columns.get(key, key)].type
            process = column_type.dialect_impl(dialect).bind_processor(dialect)
            found = self._binders[(_kind(dialect), key)] = process or _same
        return found

    def run(self, connection: Connection, rows: Sequence[tuple[Any, ...]]) -> None:
        """Write ``rows``, each in :attr:`keys` order and passed through :meth:`binder`."""
        if not rows:
            return
        compiled = self._compile(connection.dialect)
        if compiled.named:
            named = [dict(zip(self.keys, row, strict=True)) for row in rows]
            connection.exec_driver_sql(compiled.sql, named)
        elif compiled.order is None:
            connection.exec_driver_sql(compiled.sql, list(rows))
        else:
            order = compiled.order
            connection.exec_driver_sql(compiled.sql, [tuple(row[i] for i in order) for row in rows])

    def _compile(self, dialect: Dialect) -> _Compiled:
        found = self._compiled.get(_kind(dialect))
        if found is None:
            statement = self._statements[dialect.name]
            compiled = statement.compile(dialect=dialect, column_keys=list(self.keys))
            names = compiled.positiontup
            if names is None:  # a driver taking named parameters
                found = _Compiled(str(compiled), (), named=True)
            else:
                order = tuple(self.keys.index(name) for name in names)
                same = order == tuple(range(len(self.keys)))
                found = _Compiled(str(compiled), None if same else order, named=False)
            self._compiled[_kind(dialect)] = found
        return found
