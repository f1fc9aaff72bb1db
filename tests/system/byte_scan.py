"""Scanning the raw bytes of database files for what a deleted person left (markers, keys)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from tests.system.markers import Person


@dataclass(frozen=True)
class Needle:
    what: str  # whose value, of what kind, or which key
    form: str  # the encoding looked for
    data: bytes


@dataclass(frozen=True)
class Hit:
    what: str
    form: str
    where: str
    offset: int


def describe(hits: Iterable[Hit]) -> str:
    """One line per value found: the forms it was found in, and where."""
    places: dict[str, set[str]] = {}
    for hit in hits:
        places.setdefault(hit.what, set()).add(f"{hit.form} in {hit.where} at byte {hit.offset}")
    return "\n".join(f"  {what}: {'; '.join(sorted(at))}" for what, at in sorted(places.items()))


def marker_needles(people: Iterable[Person]) -> list[Needle]:
    """Each marker as the files could hold it: UTF-8 (SQLite text, PostgreSQL text and jsonb,
    orjson-written JSON), UTF-16 (a SQLite database may be UTF-16), and the whole value
    JSON-escaped (``json.dumps``, as PostgreSQL's ``json`` columns get it, writes non-ASCII as
    ``\\u`` escapes)."""
    needles: dict[bytes, Needle] = {}
    for person in people:
        for m in person.markers:
            what = f"{person.label} {m.kind} {m.value!r}"
            forms = {
                "utf-8": m.token.encode(),
                "utf-16-le": m.token.encode("utf-16-le"),
                "utf-16-be": m.token.encode("utf-16-be"),
                "whole value, utf-8": m.value.encode(),
                "whole value, JSON-escaped": json.dumps(m.value)[1:-1].encode(),
            }
            for form, data in forms.items():
                needles.setdefault(data, Needle(what, form, data))
    return list(needles.values())


def key_needles(label: str, keys: Iterable[bytes]) -> list[Needle]:
    return [Needle(f"{label} key {key.hex()[:16]}...", "raw", key) for key in sorted(keys)]


def scan(files: Mapping[str, bytes], needles: Iterable[Needle]) -> list[Hit]:
    """Every needle found in any file, with where (the first place per file)."""
    hits: list[Hit] = []
    for needle in needles:
        for name, content in files.items():
            at = content.find(needle.data)
            if at >= 0:
                hits.append(Hit(needle.what, needle.form, name, at))
    return hits


def found(files: Mapping[str, bytes], needles: Iterable[Needle]) -> set[str]:
    return {hit.what for hit in scan(files, needles)}


def sqlite_files(db: Path) -> dict[str, bytes]:
    """The database file and whichever of its ``-wal`` and ``-shm`` exist, as bytes."""
    paths = [db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")]
    return {p.name: p.read_bytes() for p in paths if p.exists()}
