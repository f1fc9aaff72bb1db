"""Savepoints as plain SQL.

SQLAlchemy's ``begin_nested()`` names each savepoint anew (``sa_savepoint_1``, ``_2``, ...)
and so compiles its statements anew every time; on the write path that cost more than the
statements the savepoint protects. These are named by nesting depth, so the SQL repeats, and
run on the DBAPI cursor (see prepared.py).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from sqlalchemy import Connection

from obliviate.storage.prepared import execute_sql

_DEPTH = "obliviate_savepoint_depth"


@contextlib.contextmanager
def savepoint(conn: Connection) -> Iterator[None]:
    """A nested transaction: an error inside undoes only what was done inside, and is
    raised again."""
    depth = int(conn.info.get(_DEPTH, 0)) + 1
    name = f"obliviate_sp_{depth}"
    execute_sql(conn, f"SAVEPOINT {name}")
    conn.info[_DEPTH] = depth
    try:
        yield
    except BaseException:
        execute_sql(conn, f"ROLLBACK TO SAVEPOINT {name}")
        execute_sql(conn, f"RELEASE SAVEPOINT {name}")
        raise
    else:
        execute_sql(conn, f"RELEASE SAVEPOINT {name}")
    finally:
        conn.info[_DEPTH] = depth - 1
