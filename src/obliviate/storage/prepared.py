"""The hot statements, compiled once per dialect and run on the DBAPI cursor.

A leaner query path than SQLAlchemy's, taken because the benchmark shows it pays: running a
prebuilt statement through ``Connection.execute`` took about 45 µs per
statement on the bench machine (execution context, events, result object), and the same SQL on
the sqlite3 cursor about 4 µs. A soft delete runs six statements, a GET one or two.

A ``Prepared`` statement is still a SQLAlchemy Core statement, written against the tables of
``tables.py``: SQLAlchemy compiles it for the connection's dialect the first time it runs there,
and that SQL, the order of its parameters, and the type conversions of its parameters and
columns (JSON, booleans) are kept. Each run then converts the parameters, executes on the
connection's DBAPI cursor inside the transaction the connection already holds, and converts
the row. A DBAPI error is raised as the SQLAlchemy exception ``Connection.execute`` would raise
(``IntegrityError`` for a duplicate key), so callers catch the same errors as before.

Statements with expanding (``IN``) parameters are not supported: their SQL depends on the
number of values.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.base import Executable
from sqlalchemy.sql.selectable import SelectBase

Processor = Callable[[Any], Any]


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    # Parameter names in the order of the placeholders (positional paramstyles such as
    # sqlite3's), or None where the driver takes a mapping (psycopg).
    order: tuple[str, ...] | None
    bind: tuple[tuple[str, Processor], ...]
    # The values a statement holds itself (``state == 'active'``), by parameter name.
    constants: tuple[tuple[str, Any], ...]
    # One converter per column, or None where no column needs one.
    result: tuple[Processor | None, ...] | None
    row: Callable[..., tuple[Any, ...]] | None
    dbapi_error: type[Exception]


def _row_of(compiled: _Compiled, values: Sequence[Any]) -> Any:
    """One fetched row as a named tuple, its columns converted."""
    row, result = compiled.row, compiled.result
    assert row is not None, "rows asked of a statement that returns none"
    if result is None:
        return row(*values)
    return row(*[v if p is None else p(v) for p, v in zip(result, values, strict=True)])


class Prepared:
    """One Core statement, compiled on first use for each dialect (and, for an INSERT or
    UPDATE without explicit bind parameters, for each set of parameter names)."""

    __slots__ = ("_compiled", "_statement")

    def __init__(self, statement: Executable) -> None:
        self._statement = statement
        self._compiled: dict[tuple[str, tuple[str, ...]], _Compiled] = {}

    def rows(self, conn: Connection, params: Mapping[str, Any]) -> list[Any]:
        """Every row, each a named tuple with the statement's column names."""
        compiled, cursor = self._run(conn, params)
        try:
            fetched = cursor.fetchall()
        finally:
            cursor.close()
        return [_row_of(compiled, values) for values in fetched]

    def first(self, conn: Connection, params: Mapping[str, Any]) -> Any | None:
        """The first row (a named tuple), or None."""
        compiled, cursor = self._run(conn, params)
        try:
            values = cursor.fetchone()
        finally:
            cursor.close()
        if values is None:
            return None
        return _row_of(compiled, values)

    def scalar(self, conn: Connection, params: Mapping[str, Any]) -> Any | None:
        """The first column of the first row, or None when there is no row."""
        found = self.first(conn, params)
        return None if found is None else found[0]

    def run(self, conn: Connection, params: Mapping[str, Any]) -> int:
        """Execute; return the number of rows it changed."""
        _compiled, cursor = self._run(conn, params)
        try:
            return int(cursor.rowcount)
        finally:
            cursor.close()

    def _run(self, conn: Connection, params: Mapping[str, Any]) -> tuple[_Compiled, Any]:
        dialect = conn.dialect
        key = (dialect.name, tuple(params))
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled = self._compile(dialect, tuple(params))
            self._compiled[key] = compiled
        if compiled.constants:
            params = {**dict(compiled.constants), **params}
        if compiled.bind:
            values = dict(params)
            for name, convert in compiled.bind:
                value = values[name]
                if value is not None:
                    values[name] = convert(value)
        else:
            values = params  # type: ignore[assignment]
        args: Any = values if compiled.order is None else [values[n] for n in compiled.order]
        if not conn.in_transaction():
            conn.begin()
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(compiled.sql, args)
        except compiled.dbapi_error as err:
            cursor.close()
            raise DBAPIError.instance(
                compiled.sql, args, err, compiled.dbapi_error, dialect=dialect
            ) from err
        return compiled, cursor

    def _compile(self, dialect: Dialect, names: tuple[str, ...]) -> _Compiled:
        compiled = self._statement.compile(dialect=dialect, column_keys=list(names))  # type: ignore[attr-defined]
        if any(b.expanding for b in compiled.binds.values()):
            raise TypeError("Prepared does not take statements with expanding parameters")
        bind: list[tuple[str, Processor]] = []
        constants = tuple(
            (name, param.effective_value)
            for name, param in compiled.binds.items()
            if not param.required and name not in names
        )
        for name, param in compiled.binds.items():
            convert = param.type.dialect_impl(dialect).bind_processor(dialect)
            if convert is not None:
                bind.append((name, convert))
        order = compiled.positiontup
        result: tuple[Processor | None, ...] | None = None
        make_row: Callable[..., tuple[Any, ...]] | None = None
        if isinstance(self._statement, SelectBase):
            columns = list(self._statement.selected_columns)
            converters = tuple(
                c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns
            )
            result = converters if any(c is not None for c in converters) else None
            make_row = namedtuple("Row", [c.key for c in columns], rename=True)  # type: ignore[misc,no-redef]
        dbapi = dialect.loaded_dbapi
        return _Compiled(
            sql=compiled.string,
            order=None if order is None else tuple(order),
            bind=tuple(bind),
            constants=constants,
            result=result,
            row=make_row,
            dbapi_error=dbapi.Error,
        )


def execute_sql(conn: Connection, sql: str) -> None:
    """Run one fixed statement without parameters (BEGIN, SAVEPOINT ...) on the DBAPI cursor,
    as it stands: it neither begins nor ends SQLAlchemy's view of the transaction."""
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    dbapi_error: type[Exception] = conn.dialect.loaded_dbapi.Error
    try:
        cursor.execute(sql)
    except dbapi_error as err:
        raise DBAPIError.instance(sql, None, err, dbapi_error, dialect=conn.dialect) from err
    finally:
        cursor.close()
