"""Savepoints as plain SQL.

SQLAlchemy's ``begin_nested()`` names each savepoint anew (``sa_savepoint_1``, ``_2``, ...)
and so compiles its statements anew every time; on the write path that cost more than the
statements the savepoint protects. These are named by nesting depth, so the SQL repeats.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from sqlalchemy import Connection

_DEPTH = "obliviate_savepoint_depth"


@contextlib.contextmanager
def savepoint(conn: Connection) -> Iterator[None]:
    """A nested transaction: an error inside undoes only what was done inside, and is
    raised again."""
    depth = int(conn.info.get(_DEPTH, 0)) + 1
    name = f"obliviate_sp_{depth}"
    conn.exec_driver_sql(f"SAVEPOINT {name}")
    conn.info[_DEPTH] = depth
    try:
        yield
    except BaseException:
        conn.exec_driver_sql(f"ROLLBACK TO SAVEPOINT {name}")
        conn.exec_driver_sql(f"RELEASE SAVEPOINT {name}")
        raise
    else:
        conn.exec_driver_sql(f"RELEASE SAVEPOINT {name}")
    finally:
        conn.info[_DEPTH] = depth - 1
