"""Goal 3 of issue 6: a person's history does not slow their deletion.

People with a long history (``events_per_person`` events each, written straight into the
database) and people with none are hard-deleted one request at a time, alternately, on one
connection, on a server with no worker. The request only hides the person and queues the
purge; a worker process started afterwards then removes the event rows in bounded batches,
and its rate is the rows removed over the time from its start to the last job's end. A purge
job ends only after its erasure pass (src/obliviate/storage/erasure.py), so that rate is of
purge + erasure; the worker times each pass (erasure_timing.py), which gives the passes' share.
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import bulk
from loadgen import LoadResult, build_request

HEAVY_FIRST_ID = 1_000_000_000
HEAVY_FIRST_EVENT_ID = 1_000_000_000


def prepare(db_path: Path, people: int, events_per_person: int) -> tuple[list[str], list[str], int]:
    tenant = bulk.tenant_id(db_path)
    now = int(time.time() * 1000)
    heavy = bulk.add_people(
        db_path, tenant, prefix="bench-heavy", first_id=HEAVY_FIRST_ID, count=people, now_ms=now
    )
    light = bulk.add_people(
        db_path,
        tenant,
        prefix="bench-light",
        first_id=HEAVY_FIRST_ID + people,
        count=people,
        now_ms=now,
    )
    written = bulk.add_events(
        db_path,
        tenant,
        profile_ids=range(HEAVY_FIRST_ID, HEAVY_FIRST_ID + people),
        per_profile=events_per_person,
        first_event_id=HEAVY_FIRST_EVENT_ID,
        now_ms=now,
    )
    return heavy, light, written


def alternating_deletes(
    host: str, heavy: list[str], light: list[str], headers: dict[str, str]
) -> list[bytes]:
    requests: list[bytes] = []
    for h, li in zip(heavy, light, strict=True):
        for uuid in (h, li):
            requests.append(
                build_request("DELETE", f"/v1/users/{uuid}?hardDelete=true", host, headers=headers)
            )
    return requests


def split(result: LoadResult) -> tuple[LoadResult, LoadResult]:
    """One connection answers in order: even answers are the heavy people, odd the light.
    The first pair warmed the server's connection up and is left out."""

    def part(latencies: list[int]) -> LoadResult:
        return LoadResult(
            requests=len(latencies),
            non_2xx=result.non_2xx,
            errors=result.errors,
            elapsed=sum(latencies) / 1e9,
            latencies_ns=latencies,
            status_counts=result.status_counts,
        )

    return part(result.latencies_ns[2::2]), part(result.latencies_ns[3::2])


def purge_figures(db_path: Path, people: int, *, since_ms: int) -> tuple[int, float]:
    """Event rows the heavy people's purge jobs removed, and the seconds from ``since_ms``
    (the worker's start) to the last of those jobs finishing: purge and erasure pass, as a
    job completes only once its pass has run (each must say ``erasure.state`` done)."""
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=30)
    try:
        rows = conn.execute(
            "SELECT state, finished_at, result FROM jobs WHERE kind = 'purge_profile' "
            "AND CAST(json_extract(payload, '$.subject_id') AS INTEGER) BETWEEN ? AND ?",
            (HEAVY_FIRST_ID, HEAVY_FIRST_ID + people - 1),
        ).fetchall()
    finally:
        conn.close()
    if len(rows) != people or any(r[1] is None for r in rows):
        raise RuntimeError(f"{len(rows)} heavy purge jobs found, not all finished")
    results = [json.loads(r[2]) for r in rows]
    unerased = sum(
        1
        for r, result in zip(rows, results, strict=True)
        if r[0] != "completed" or (result.get("erasure") or {}).get("state") != "done"
    )
    if unerased:
        raise RuntimeError(f"{unerased} heavy purge jobs ended without a completed erasure")
    purged = sum(int(result.get("counts", {}).get("events", 0)) for result in results)
    span_ms = max(r[1] for r in rows) - since_ms
    return purged, span_ms / 1000
