"""The soak's verdict, once every process is back and every job has ended.

While the workload ran, every answer had to agree with the acknowledged history (the clients
collect the ones that did not). Then four properties, read through the APIs and straight from
the database:
- every acknowledged write is present (people, identifiers, attributes, events, devices);
- every acknowledged deletion is in force (soft, hard, device, identifier, batch);
- every job reached a terminal state, and the jobs the clients were given completed;
- no registered deletion target holds a row of a deleted subject. This walks
  ``TARGETS_BY_SUBJECT`` (``PROFILE_TARGETS`` and ``DEVICE_TARGETS``), so a target added there is
  covered here without a change.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, func, select

from obliviate.domain.deletion import TERMINAL_JOB_STATES
from obliviate.storage import tables as t
from obliviate.storage.deletion_targets import TARGETS_BY_SUBJECT
from tests.support.sealed import DeviceRows, IdentifierOwners, vault_of
from tests.system.soak_model import (
    ACTIVE,
    HARD,
    SOFT,
    Device,
    Ledger,
    Person,
    device_expectation,
)

# (surface, method, path, body) -> (status, answer)
Api = Callable[[str, str, str, Any], tuple[int, Any]]

HISTORY = "every answer agrees with the acknowledged history"
WRITES = "acknowledged writes present"
DELETIONS = "acknowledged deletions in force"
JOBS = "jobs terminal"
TARGETS = "no row of a deleted subject in any deletion target"
CHECKS = (HISTORY, WRITES, DELETIONS, JOBS, TARGETS)


@dataclass
class Verdict:
    # Check -> how many things it looked at.
    checked: Counter[str] = field(default_factory=Counter)
    violations: list[str] = field(default_factory=list)

    def expect(self, check: str, holds: bool, failure: str) -> None:
        self.checked[check] += 1
        if not holds:
            self.violations.append(f"{check}: {failure}")


def unfinished_jobs(engine: Engine, tenant_id: str) -> int:
    with engine.connect() as conn:
        query = select(func.count()).where(
            t.jobs.c.tenant_id == tenant_id,
            t.jobs.c.state.not_in([s.value for s in TERMINAL_JOB_STATES]),
        )
        return int(conn.execute(query).scalar_one())


def judge(
    engine: Engine, env: Mapping[str, str], tenant_id: str, api: Api, ledgers: list[Ledger]
) -> Verdict:
    verdict = Verdict()
    for ledger in ledgers:
        # Each request was chosen to succeed on what earlier acknowledged requests left behind
        # (an event for a live person, a revival of a soft-deleted one): a definitive answer
        # that disagrees means an acknowledged change was lost, or undone.
        verdict.checked[HISTORY] += sum(n["ack"] + n["no"] for n in ledger.tally.values())
        verdict.violations.extend(
            f"{HISTORY}: client {ledger.client} got {anomaly}" for anomaly in ledger.anomalies
        )
    with engine.connect() as conn:
        _check_jobs(conn, tenant_id, api, ledgers, verdict)
        _check_targets(conn, tenant_id, verdict)
        vault = vault_of(conn, env)
        held = IdentifierOwners(conn, vault, tenant_id)
        states = dict(
            conn.execute(
                select(t.profiles.c.profile_id, t.profiles.c.state).where(
                    t.profiles.c.tenant_id == tenant_id
                )
            ).all()
        )
        device_rows = DeviceRows(conn, vault, tenant_id)
    for ledger in ledgers:
        owners = {p.uuid: p for p in ledger.people}
        for person in ledger.people:
            _check_person(person, api, held, states, verdict)
        for device in ledger.devices:
            _check_device(device, device_expectation(device, owners), api, device_rows, verdict)
    return verdict


def _check_jobs(
    conn: Connection, tenant_id: str, api: Api, ledgers: list[Ledger], verdict: Verdict
) -> None:
    jobs = {
        r.job_id: r
        for r in conn.execute(
            select(t.jobs.c.job_id, t.jobs.c.kind, t.jobs.c.state, t.jobs.c.result).where(
                t.jobs.c.tenant_id == tenant_id
            )
        )
    }
    for job in jobs.values():
        # Terminal, and nothing short of completed: partial means rows were left behind.
        reason = (job.result or {}).get("reason")
        verdict.expect(
            JOBS,
            job.state == "completed",
            f"job {job.job_id} ({job.kind}) is {job.state}: {reason}",
        )
    for ledger in ledgers:
        for given in ledger.jobs:
            job_id = given["job_id"]
            verdict.expect(
                JOBS, job_id in jobs, f"acknowledged job {job_id} is not in the jobs table"
            )
            if given["kind"] == "batch":
                status, answer = api("native", "GET", f"/api/v1/deletions/{job_id}", None)
                state = answer.get("state") if isinstance(answer, dict) else None
                verdict.expect(
                    JOBS,
                    status == 200 and state == "completed",
                    f"batch {job_id} reads {status} {answer}",
                )


def _check_targets(conn: Connection, tenant_id: str, verdict: Verdict) -> None:
    """Every subject a purge or a hard batch deleted: no row of it in any registered target."""
    subjects: set[tuple[str, int]] = set()
    for kind, payload in conn.execute(
        select(t.jobs.c.kind, t.jobs.c.payload).where(t.jobs.c.tenant_id == tenant_id)
    ):
        if "subject_kind" in payload:
            subjects.add((str(payload["subject_kind"]), int(payload["subject_id"])))
        elif kind == "deletion_batch" and payload.get("mode") == "hard":
            subjects.update(
                ("profile", int(pid)) for s in payload["subjects"] for pid in s["profile_ids"]
            )
    for kind, subject_id in sorted(subjects):
        for target in TARGETS_BY_SUBJECT[kind]:
            left = conn.execute(
                select(func.count())
                .select_from(target.table)
                .where(target.rows_of(tenant_id, subject_id))
            ).scalar_one()
            verdict.expect(
                TARGETS,
                left == 0,
                f"{kind} {subject_id}: {left} row(s) left in {target.table.name}",
            )
    # Rows the per-subject predicates cannot reach any more: hidden but never purged, or tags
    # whose device row is gone.
    purging = conn.execute(
        select(func.count()).where(
            t.profiles.c.tenant_id == tenant_id, t.profiles.c.state == "purging"
        )
    ).scalar_one()
    verdict.expect(TARGETS, purging == 0, f"{purging} profile(s) still purging")
    retired = conn.execute(
        select(func.count()).where(
            t.devices.c.tenant_id == tenant_id, t.devices.c.state != "active"
        )
    ).scalar_one()
    verdict.expect(TARGETS, retired == 0, f"{retired} deleted device row(s) never purged")
    live_devices = select(t.devices.c.device_id).where(t.devices.c.tenant_id == tenant_id)
    orphans = conn.execute(
        select(func.count()).where(
            t.device_tags.c.tenant_id == tenant_id, t.device_tags.c.device_id.not_in(live_devices)
        )
    ).scalar_one()
    verdict.expect(TARGETS, orphans == 0, f"{orphans} tag row(s) of devices that are gone")


def _check_person(
    person: Person,
    api: Api,
    held: IdentifierOwners,
    states: dict[int, str],
    verdict: Verdict,
) -> None:
    uuid = person.uuid
    if person.state not in (ACTIVE, SOFT, HARD):
        return
    status, profile = api("native", "GET", f"/api/v1/profiles/{uuid}", None)
    owner = held.get(("uuid", uuid))
    email_owner = held.get(("email", person.email))
    if person.state == HARD:
        verdict.expect(DELETIONS, status == 404, f"hard-deleted {uuid} reads {status}")
        verdict.expect(
            DELETIONS,
            owner is None and email_owner is None,
            f"hard-deleted {uuid} still holds its identifiers",
        )
        return
    if person.state == SOFT:
        verdict.expect(DELETIONS, status == 404, f"soft-deleted {uuid} reads {status} natively")
        gs_status, _ = api("gainsight", "GET", f"/v1/users/{uuid}", None)
        verdict.expect(DELETIONS, gs_status == 404, f"soft-deleted {uuid} reads {gs_status}")
        state = None if owner is None else states.get(owner)
        verdict.expect(
            DELETIONS, state == "soft_deleted", f"soft-deleted {uuid} is {state} in the database"
        )
        return
    verdict.expect(WRITES, status == 200, f"live {uuid} reads {status}: {profile}")
    if status != 200:
        return
    verdict.expect(
        WRITES, owner is not None and states.get(owner) == "active", f"{uuid} is not active"
    )
    emails = [i["value"] for i in profile["identifiers"] if i["type"] == "email"]
    if person.has_email:
        verdict.expect(WRITES, emails == [person.email], f"{uuid} has emails {emails}")
    else:
        verdict.expect(DELETIONS, emails == [], f"{uuid} still shows emails {emails}")
        verdict.expect(DELETIONS, email_owner is None, f"{uuid}'s deleted email is still held")
        ins_status, _ = api(
            "insider", "POST", "/api/user/v1/profile", {"identifiers": {"email": person.email}}
        )
        verdict.expect(DELETIONS, ins_status == 404, f"{uuid}'s deleted email finds {ins_status}")
    for key, allowed in person.attributes.items():
        value = profile["attributes"].get(key)
        verdict.expect(WRITES, value in allowed, f"{uuid}.{key} is {value!r}, not in {allowed}")
    query = f"/v1/events/custom?filter=identifyId=={uuid}&pageSize=1"
    ev_status, events = api("gainsight", "GET", query, None)
    hits = events.get("totalHits") if isinstance(events, dict) else None
    low, high = person.events, person.events + person.events_unknown
    verdict.expect(
        WRITES,
        ev_status == 200 and isinstance(hits, int) and low <= hits <= high,
        f"{uuid} has {hits} events, acknowledged {low}, at most {high}",
    )


def _check_device(
    device: Device,
    expected: str | None,
    api: Api,
    device_rows: DeviceRows,
    verdict: Verdict,
) -> None:
    if expected is None:
        return
    status, answer = api("engagelab", "GET", f"/v4/devices/{device.rid}", None)
    if expected == "visible":
        wanted = {"tags": device.tags, "alias": device.alias}
        verdict.expect(
            WRITES,
            status == 200 and answer == wanted,
            f"device {device.rid} reads {status} {answer}, acknowledged {wanted}",
        )
        return
    verdict.expect(DELETIONS, status == 404, f"{expected} device {device.rid} reads {status}")
    if expected == "gone":
        rows = device_rows[device.rid]
        verdict.expect(DELETIONS, rows == 0, f"deleted device {device.rid} keeps {rows} row(s)")
