"""Goal 3: a person's history does not slow their deletion.

People with a long history (``events_per_person`` events each, written straight into the
database) and people with none are hard-deleted one request at a time, alternately, on one
connection, on a server with no worker. The request only hides the person and queues the
purge; a worker process started afterwards then removes the event rows in bounded batches,
and its rate is the rows removed over the time from its start to the last job's end. A purge
job ends only after its erasure pass (src/obliviate/storage/erasure.py), so that rate is of
purge + erasure; the worker times each pass (erasure_timing.py), which gives the passes' share.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from pathlib import Path

import bulk
from erasure_timing import read_passes
from gainsight_requests import user_hard_delete
from harness import active_jobs, say
from loadgen import LoadResult, run_load
from plan import Plan
from report import Row
from servers import DB_FILE, HOST, sqlite_env, start_obliviate, start_worker
from sources import once_each

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


def alternating_deletes(host: str, heavy: list[str], light: list[str]) -> list[bytes]:
    return [
        user_hard_delete(host, uuid) for pair in zip(heavy, light, strict=True) for uuid in pair
    ]


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


async def history_section(plan: Plan, workdir: Path, facts: dict[str, float]) -> list[Row]:
    """Hard deletes of people with a long history against people with none, on a server of
    its own with no worker (so the requests are measured alone), then the purge of what they
    queued by one `obliviate worker` process, timed from its start until the last job has
    completed: each completes only after its erasure pass, which that worker times."""
    people, per = plan.history_people, plan.events_per_person
    folder = workdir / "history"
    server = start_obliviate(folder, name="obliviate-history", extra_args=("--no-worker",))
    rows: list[Row] = []
    try:
        server.wait_ready("/healthz")
        db = folder / DB_FILE
        say(f"history: {people} people with {per:,} events each and {people} with none ...")
        # One more of each: the first pair warms the server up and is not counted.
        heavy, light, written = prepare(db, people + 1, per)
        requests = alternating_deletes(f"{HOST}:{server.port}", heavy, light)
        result = await run_load(HOST, server.port, once_each(requests), connections=1)
        heavy_result, light_result = split(result)
        light_row = Row.from_result(
            "hard delete, person with no events",
            "DELETE /v1/users/{id}?hardDelete=true",
            light_result,
            plan.duration,
            None,
            connections=1,
            note=(
                f"{people} requests on one connection, alternating with the row below, on a "
                "server with no worker; the purges run after (see the goals)"
            ),
        )
        heavy_row = Row.from_result(
            f"hard delete, person with {per:,} events",
            "DELETE /v1/users/{id}?hardDelete=true",
            heavy_result,
            plan.duration,
            light_row,
            connections=1,
            note=f"{people} requests; {per:,} event rows written for each beforehand",
        )
        rows += [light_row, heavy_row]
        for row in rows:
            say(f"  {row.progress_line()}")
        erasure_log = folder / "erasure-passes.txt"
        worker = start_worker(sqlite_env(folder), folder, erasure_log=erasure_log)
        try:
            worker.wait_worker()
            started = int(time.time() * 1000)
            deadline = time.monotonic() + 900
            while active_jobs(db) and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            if worker.process.poll() is not None:
                raise RuntimeError(f"the history worker died:\n{worker.log_tail()}")
        finally:
            worker.stop()
        purged, seconds = purge_figures(db, people + 1, since_ms=started)
        if purged != written:
            raise RuntimeError(f"the purges removed {purged} event rows of {written}")
        # Purge + erasure: the jobs end only after their erasure pass.
        facts["purge_event_rows"] = purged
        facts["purge_seconds"] = seconds
        facts["purge_rows_per_s"] = purged / seconds if seconds > 0 else 0.0
        passes = read_passes([erasure_log])
        facts["erasure_passes"] = passes.done
        facts["erasure_busy_passes"] = passes.busy
        facts["erasure_seconds"] = passes.seconds
        facts["erasure_ms_mean"] = passes.mean_ms
        facts["erasure_ms_max"] = passes.max_ms
        say(
            f"  purge + erasure: {purged:,} event rows in {seconds:.2f} s by one worker process; "
            f"{passes.done} erasure passes took {passes.seconds:.2f} s of it"
        )
    finally:
        server.stop()
    return rows
