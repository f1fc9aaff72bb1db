"""People with a long history written straight into the PostgreSQL database, and the figures
of their purges, for the purge rate on PostgreSQL."""

from __future__ import annotations

import time

import psycopg

from bulk import ATTRIBUTES, EVENT_BODY
from sealed import UUID, Sealer

HEAVY_PEOPLE = 5
HEAVY_EVENTS = 100_000
HEAVY_FIRST_ID = 1_000_000_000


def write_heavy_people(url: str, secret: bytes) -> tuple[list[str], int]:
    """HEAVY_PEOPLE people with HEAVY_EVENTS events each, written with COPY, each with a key
    of their own and their values sealed under it, as the server writes them (sealed.py);
    their uuids."""
    uuids = [f"pg-heavy-{n:04d}" for n in range(HEAVY_PEOPLE)]
    now = int(time.time() * 1000)
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT tenant_id FROM tenants WHERE name = 'demo'").fetchone()
        assert row is not None
        tenant = str(row[0])
        seal = Sealer(url, secret, tenant)
        email_hash = seal.email_hash(ATTRIBUTES)
        ids = [HEAVY_FIRST_ID + n for n in range(HEAVY_PEOPLE)]
        wrapped = [seal.new_key(pid) for pid in ids]
        people = [seal.person(pid, w) for pid, w in zip(ids, wrapped, strict=True)]
        cur = conn.cursor()
        with cur.copy(
            "COPY erasure_keys (tenant_id, key_id, holder_id, wrapped, created_at) FROM STDIN"
        ) as copy:
            for pid, w in zip(ids, wrapped, strict=True):
                copy.write_row((tenant, pid, pid, w, now))
        with cur.copy(
            "COPY profiles (tenant_id, profile_id, state, attributes, created_at, updated_at, "
            "email_hash) FROM STDIN"
        ) as copy:
            for pid, person in zip(ids, people, strict=True):
                copy.write_row(
                    (tenant, pid, "active", person.seal_json(ATTRIBUTES), now, now, email_hash)
                )
        with cur.copy(
            "COPY identifiers (tenant_id, id_type, value_hash, sealed_value, profile_id, "
            "created_at) FROM STDIN"
        ) as copy:
            for pid, person, uuid in zip(ids, people, uuids, strict=True):
                copy.write_row(
                    (tenant, UUID, seal.lookup_hash(UUID, uuid), person.seal_text(uuid), pid, now)
                )
        with cur.copy(
            "COPY events (tenant_id, event_id, profile_id, name, occurred_at, sealed_body) "
            "FROM STDIN"
        ) as copy:
            event_id = HEAVY_FIRST_ID
            for pid, person in zip(ids, people, strict=True):
                for k in range(HEAVY_EVENTS):
                    copy.write_row(
                        (tenant, event_id, pid, "bench_event", now - k, person.seal(EVENT_BODY))
                    )
                    event_id += 1
    return uuids, HEAVY_PEOPLE * HEAVY_EVENTS


def purge_figures(url: str) -> tuple[int, float]:
    """Event rows the heavy people's purges removed, and seconds from the first of those jobs
    being queued to the last finishing (from the jobs' own timestamps): purge and erasure
    pass, as a job completes only once its pass has run (each must say ``erasure`` done)."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT created_at, finished_at, (result->'counts'->>'events')::bigint, state, "
            "result->'erasure'->>'state' FROM jobs "
            "WHERE kind = 'purge_profile' AND (payload->>'subject_id')::bigint "
            "BETWEEN %s AND %s",
            (HEAVY_FIRST_ID, HEAVY_FIRST_ID + HEAVY_PEOPLE - 1),
        ).fetchall()
    if len(rows) != HEAVY_PEOPLE or any(r[1] is None for r in rows):
        raise RuntimeError(f"{len(rows)} heavy purge jobs found on PostgreSQL, not all finished")
    unerased = sum(1 for r in rows if r[3] != "completed" or r[4] != "done")
    if unerased:
        raise RuntimeError(f"{unerased} heavy purge jobs ended without a completed erasure")
    purged = sum(int(r[2] or 0) for r in rows)
    return purged, (max(r[1] for r in rows) - min(r[0] for r in rows)) / 1000
