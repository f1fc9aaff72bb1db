"""Statements over many rows at once, on the lean path of prepared.py.

``PreparedMany`` runs one INSERT or UPDATE for many parameter sets with the DBAPI's
``executemany`` (psycopg pipelines them: one round trip for the lot, where a statement per row
cost a round trip each). ``ByKeys`` looks rows up by many keys in one statement (or a few):
its SQL repeats whatever the number of keys, so it is compiled once.

Measured on the 1,000-user Insider upsert (uuid and email each, one event): one statement per
row and per look-up made it ~1,300 users/s on SQLite and ~250 on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Connection,
    Insert,
    LargeBinary,
    Select,
    String,
    bindparam,
    cast,
    func,
    select,
    true,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError

from obliviate.storage.prepared import Prepared

# The largest chunk, well under SQLite's and PostgreSQL's limits on bound parameters.
CHUNK = 512
_BUCKETS = (1, 4, 16, 64, 256, CHUNK)


class PreparedMany(Prepared):
    """A prepared INSERT or UPDATE, also runnable for many parameter sets at once."""

    __slots__ = ()

    def run_many(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        """Execute once per row, in one ``executemany``; every row has the same keys.

        An INSERT on PostgreSQL is a ``COPY`` instead: executemany still ran the statement
        once per row on the server, ~20 µs a row (1,000 users' identifiers took ~40 ms),
        ``INSERT ... SELECT unnest(...)`` about as long, COPY half of that."""
        if not rows:
            return
        dialect = conn.dialect
        names = tuple(rows[0])
        key = (dialect.name, names)
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled = self._compile(dialect, names)
            self._compiled[key] = compiled
        constants, bind = dict(compiled.constants), compiled.bind
        copy = dialect.name == "postgresql" and isinstance(self._statement, Insert)
        order = names if copy else compiled.order
        args: list[Any] = []
        for row in rows:
            values = {**constants, **row} if constants else dict(row)
            for name, convert in bind:
                value = values[name]
                if value is not None:
                    values[name] = convert(value)
            args.append(values if order is None else [values[n] for n in order])
        if not conn.in_transaction():
            conn.begin()
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        sql = self._copy_sql(dialect, names) if copy else compiled.sql
        try:
            if copy:
                with cursor.copy(sql) as rows_in:
                    for values in args:
                        rows_in.write_row(values)
            else:
                cursor.executemany(sql, args)
        except compiled.dbapi_error as err:
            raise DBAPIError.instance(
                sql, args, err, compiled.dbapi_error, dialect=dialect
            ) from err
        finally:
            cursor.close()

    def _copy_sql(self, dialect: Dialect, names: tuple[str, ...]) -> str:
        quote = dialect.identifier_preparer
        table = quote.format_table(self._statement.table)  # type: ignore[attr-defined]
        return f"COPY {table} ({', '.join(quote.quote(n) for n in names)}) FROM STDIN"

    def _compile(self, dialect: Dialect, names: tuple[str, ...]) -> Any:
        compiled = super()._compile(dialect, names)
        # Sealed values are bytes already, which both drivers take as they are: wrapping each
        # for the DBAPI (sqlite3.Binary) cost a tenth of a 1,000-row insert.
        binary = {
            name
            for name, param in self._statement.compile(  # type: ignore[attr-defined]
                dialect=dialect, column_keys=list(names)
            ).binds.items()
            if isinstance(param.type, LargeBinary)
        }
        return replace(compiled, bind=tuple((n, c) for n, c in compiled.bind if n not in binary))


Match = Callable[[Any], ColumnElement[bool]]


class ByKeys:
    """A SELECT by many keys. ``build(match)`` makes the statement, with ``match(column)`` as
    the condition that the key column equals one of the keys.

    On PostgreSQL the keys go in one array and each is looked up on its own, in a lateral
    subquery: a plain ``IN (...)`` was planned as a scan of the tenant's whole index prefix
    when the table has no statistics (a fresh table, or autovacuum off): 60 ms per chunk at
    10,000 identifiers and growing, against 3 ms for 500 keys at any size this way. Keys are
    looked up in the order given, so sorted keys lock rows in sorted order (keys are hashes
    or ids: text without commas, or integers). Elsewhere (SQLite,
    whose planner looks each up by index) an ``IN`` list per chunk, sized to a bucket."""

    __slots__ = ("_build", "_by_size", "_key_type", "_lateral")

    def __init__(self, build: Callable[[Match], Select[Any]], key_type: Any) -> None:
        self._build = build
        self._key_type = key_type
        self._by_size: dict[int, Prepared] = {}
        self._lateral: Prepared | None = None

    def _lateral_statement(self) -> Prepared:
        if self._lateral is None:
            # The keys as one comma-separated text, split by the server: psycopg checked
            # every element of a text array with a regular expression (~3 µs a key).
            listed = func.string_to_array(bindparam("keys", String), ",", type_=ARRAY(String))
            keys = (
                func.unnest(cast(listed, ARRAY(self._key_type)))
                .table_valued("key")
                .render_derived(name="k")
            )
            found = self._build(lambda column: column == keys.c.key).offset(0).lateral("found")
            self._lateral = Prepared(select(*found.c).select_from(keys.join(found, true())))
        return self._lateral

    def _in_list(self, size: int) -> Prepared:
        names: list[Any] = [bindparam(f"k{i}") for i in range(size)]
        statement = self._by_size[size] = Prepared(self._build(lambda c: c.in_(names)))
        return statement

    def rows(
        self, conn: Connection, keys: Sequence[Any], params: Mapping[str, Any]
    ) -> Iterator[Any]:
        """The rows of every key."""
        if not keys:
            return
        if conn.dialect.name == "postgresql":
            listed = ",".join(map(str, keys))
            if listed.count(",") != len(keys) - 1:
                raise ValueError("keys must not hold commas")
            yield from self._lateral_statement().rows(conn, {**params, "keys": listed})
            return
        for start in range(0, len(keys), CHUNK):
            chunk = keys[start : start + CHUNK]
            size = next(b for b in _BUCKETS if b >= len(chunk))
            statement = self._by_size.get(size) or self._in_list(size)
            values = dict(params)
            padding = chunk[-1]
            for i in range(size):
                values[f"k{i}"] = chunk[i] if i < len(chunk) else padding
            yield from statement.rows(conn, values)
