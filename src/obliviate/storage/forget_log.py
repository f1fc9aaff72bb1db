"""The forget log: every acknowledged deletion and suppression, appended to a file outside the
database, so that a restored backup can be brought up to date (``obliviate restore``).

Format: JSON lines. The first line is a header naming the log (a random id): a backup records
the log's id and size when it was taken, and a restore refuses a log that is not that one (a
log recreated since would miss deletions). Every further line is one ``ForgetEntry``: internal
ids, keyed hashes and times only, never a person's value.

Durability: each ``append`` is one ``write`` on an ``O_APPEND`` descriptor, then ``fsync``,
before it returns; the runtime answers only after that. A crash mid-write leaves at most a
torn last line, which belongs to an append that never returned, so to a deletion never
acknowledged: readers skip it, and the next append ends it with a newline first so that
later lines stay whole (appenders take turns under ``flock`` to look at the tail).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO

import orjson

from obliviate.domain.forgetting import ForgetEntry, ForgetKind

FORMAT_VERSION = 1
_HEADER_KEY = "forget_log"


class ForgetLogError(Exception):
    """The forget log is missing, is not a forget log, or holds a line this version cannot
    read (other than a torn last line). Raised by commands, never on a request path."""


@dataclass(frozen=True, slots=True)
class LogPosition:
    """Where a log stood: its id and its size in bytes (the end of its last whole line, or a
    little past it when a write was in progress)."""

    log_id: str
    offset: int


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _create(path: Path) -> None:
    """Make the log with its header, unless it exists. Processes starting together all end up
    with one log: it appears by a hard link of a complete, fsynced file, never half written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    header = {_HEADER_KEY: FORMAT_VERSION, "id": secrets.token_hex(16), "created_at": _now_ms()}
    temporary = path.parent / f".{path.name}.{secrets.token_hex(8)}"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        try:
            _write_all(fd, orjson.dumps(header) + b"\n")
            os.fsync(fd)
        finally:
            os.close(fd)
        # Another process may have made it first: then theirs is the log.
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
    finally:
        os.unlink(temporary)
    # The new name must survive a crash as well as the bytes behind it.
    _fsync_dir(path.parent)


def _now_ms() -> int:
    return int(time.time() * 1000)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _ends_torn(fd: int) -> bool:
    size = os.fstat(fd).st_size
    return size > 0 and os.pread(fd, 1, size - 1) != b"\n"


def encode(entry: ForgetEntry) -> bytes:
    """One log line (without its newline)."""
    return orjson.dumps(
        {
            "kind": entry.kind.value,
            "tenant_id": entry.tenant_id,
            "at": entry.at,
            "profile_ids": entry.profile_ids,
            "device_ids": entry.device_ids,
            "hashes": entry.hashes,
            "key_id": entry.key_id,
            "revivable_until": entry.revivable_until,
            "mode": entry.mode,
            "suppress": entry.suppress,
        }
    )


def _ints(value: Any, field: str) -> tuple[int, ...]:
    if not isinstance(value, list) or not all(
        isinstance(v, int) and not isinstance(v, bool) for v in value
    ):
        raise ForgetLogError(f"forget log entry: {field} is not a list of integers")
    return tuple(value)


def _optional(value: Any, kind: type, field: str) -> Any:
    if value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
        raise ForgetLogError(f"forget log entry: {field} has the wrong type")
    return value


def decode(line: bytes) -> ForgetEntry:
    """The entry of a whole line; ``ForgetLogError`` if it is not one (JSON errors propagate as
    ``orjson.JSONDecodeError`` so that the reader can tell a torn line from a foreign one)."""
    raw = orjson.loads(line)
    if not isinstance(raw, dict):
        raise ForgetLogError("forget log entry is not an object")
    try:
        kind = ForgetKind(str(raw.get("kind")))
    except ValueError:
        # A kind this version does not know (a newer writer): skipping it could skip a deletion.
        raise ForgetLogError("forget log entry of an unknown kind") from None
    hashes = raw.get("hashes", [])
    if not isinstance(hashes, list) or not all(
        isinstance(h, list) and len(h) == 2 and all(isinstance(p, str) for p in h) for h in hashes
    ):
        raise ForgetLogError("forget log entry: hashes are not (type, hash) pairs")
    tenant_id, at = raw.get("tenant_id"), raw.get("at")
    if not isinstance(tenant_id, str) or not isinstance(at, int) or isinstance(at, bool):
        raise ForgetLogError("forget log entry without tenant or time")
    suppress = raw.get("suppress", False)
    if not isinstance(suppress, bool):
        raise ForgetLogError("forget log entry: suppress is not a boolean")
    return ForgetEntry(
        kind=kind,
        tenant_id=tenant_id,
        at=at,
        profile_ids=_ints(raw.get("profile_ids", []), "profile_ids"),
        device_ids=_ints(raw.get("device_ids", []), "device_ids"),
        hashes=tuple((h[0], h[1]) for h in hashes),
        key_id=_optional(raw.get("key_id"), str, "key_id"),
        revivable_until=_optional(raw.get("revivable_until"), int, "revivable_until"),
        mode=_optional(raw.get("mode"), str, "mode"),
        suppress=suppress,
    )


def _header_id(line: bytes) -> str:
    try:
        header = orjson.loads(line)
    except orjson.JSONDecodeError:
        header = None
    if (
        not isinstance(header, dict)
        or header.get(_HEADER_KEY) != FORMAT_VERSION
        or not isinstance(header.get("id"), str)
    ):
        raise ForgetLogError("not a forget log (its first line is no forget log header)")
    return str(header["id"])


class FileForgetLog:
    """The forget log of this process: appends are durable when ``append`` returns, and safe
    from several threads and several processes at once (``O_APPEND``, one write per call)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        if not path.exists():
            _create(path)
        # Opened at the first append (most processes never delete anything); readable too:
        # an append looks at the last byte for a torn line.
        self._fd = -1
        self._lock = threading.Lock()
        # Appends written and appends known durable, counted so that one fsync covers every
        # write before it: concurrent requests share fsyncs instead of queueing for one each.
        self._written = 0
        self._synced = 0
        self._sync_lock = threading.Lock()
        with open(path, "rb") as handle:
            self.log_id = _header_id(handle.readline())

    def append(self, entries: Sequence[ForgetEntry]) -> None:
        if not entries:
            return
        data = b"".join(encode(entry) + b"\n" for entry in entries)
        with self._lock:
            # flock: appenders in other processes (server, worker, CLI) take turns with this
            # one, so the look at the tail below cannot race their writes.
            if self._fd < 0:
                self._fd = os.open(self.path, os.O_RDWR | os.O_APPEND)
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            try:
                # A process killed mid-append (or a failed write here) left a torn line: end
                # it, or this entry would be glued to it and lost with it.
                if _ends_torn(self._fd):
                    data = b"\n" + data
                _write_all(self._fd, data)
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            self._written += 1
            mine = self._written
        # Outside the write lock: appenders meanwhile write on; whoever fsyncs next covers
        # every write counted before its fsync began, this one among them.
        with self._sync_lock:
            if self._synced >= mine:
                return
            upto = self._written
            os.fsync(self._fd)
            self._synced = upto

    def size(self) -> int:
        return os.stat(self.path).st_size

    def position(self) -> LogPosition:
        return LogPosition(self.log_id, self.size())

    def close(self) -> None:
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1

    def __enter__(self) -> FileForgetLog:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def read_log_id(path: Path) -> str:
    """The id in the log's header; ``ForgetLogError`` when there is no log at ``path``."""
    try:
        with open(path, "rb") as handle:
            return _header_id(handle.readline())
    except FileNotFoundError:
        raise ForgetLogError(f"no forget log at {path}") from None


class LogReading:
    """The entries of a log whose lines end after ``after``, in order, each with the byte
    offset of its line's end. Unreadable lines (a torn line, ended by a later process) are
    skipped and counted in ``torn``; ``end`` is the offset after the last whole line read."""

    def __init__(self, path: Path, *, after: int = 0) -> None:
        self.path = path
        self.after = after
        self.log_id = ""
        self.torn = 0
        self.end = 0

    def __iter__(self) -> Iterator[tuple[int, ForgetEntry]]:
        try:
            handle: BinaryIO = open(self.path, "rb")  # noqa: SIM115 (closed below)
        except FileNotFoundError:
            raise ForgetLogError(f"no forget log at {self.path}") from None
        with handle:
            header = handle.readline()
            self.log_id = _header_id(header)
            offset = self.end = len(header)
            for line in handle:
                offset += len(line)
                if not line.endswith(b"\n"):
                    # The last line, still being written or torn by a crash: not acknowledged.
                    self.torn += 1
                    break
                self.end = offset
                if offset <= self.after or not line.strip():
                    continue
                try:
                    entry = decode(line)
                except orjson.JSONDecodeError:
                    self.torn += 1
                    continue
                yield offset, entry


def read_entries(path: Path, *, after: int = 0) -> Iterator[tuple[int, ForgetEntry]]:
    """(offset of the line's end, entry) for every whole entry ending after ``after``."""
    return iter(LogReading(path, after=after))
