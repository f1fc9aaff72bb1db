"""Batch deletions (native API): up to 1,000 subjects, soft or hard, with suppression.

A batch is a job. Subjects are resolved to profiles when the batch is accepted (only keyed hashes
and internal ids are stored). The worker then deletes them: soft deletes in place, hard deletes
through one purge job per person (each writing its receipt), and the batch ends ``completed``
only after a check that no row of any subject is left in any deletion target, else ``partial``.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from obliviate.domain.deletion import TERMINAL_JOB_STATES, JobState
from obliviate.domain.errors import (
    BatchTooLarge,
    IdempotencyMismatch,
    NotCancellable,
    NotFoundError,
)
from obliviate.domain.identifiers import Identifier
from obliviate.domain.profiles import Profile, ProfileState
from obliviate.domain.tenants import Caller, Surface, Tenant
from obliviate.services.deletions import begin_purge_of, preview_deletion, soft_delete_found
from obliviate.services.guard import admit_deletions
from obliviate.services.ports import SubjectHasher, UnitOfWork
from obliviate.services.suppression import suppress_profile

DELETION_BATCH = "deletion_batch"
MAX_SUBJECTS = 1000
IDEMPOTENCY_TTL_MS = 24 * 3_600_000


class JobNotFound(NotFoundError):
    def __init__(self) -> None:
        super().__init__("no such deletion job")


@dataclass(frozen=True, slots=True)
class BatchRequest:
    subjects: Sequence[Identifier]
    mode: str
    suppress: bool
    dry_run: bool


def request_hash(body: Any) -> str:
    return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()


def _find(uow: UnitOfWork, ident: Identifier) -> Profile | None:
    profile = uow.profiles.find_by_identifier(ident.id_type, ident.value, for_update=True)
    if profile is None or profile.state is ProfileState.PURGING:
        return None
    return profile


def _find_once(uow: UnitOfWork, ident: Identifier, seen: set[int]) -> Profile | None:
    """A person named twice in one batch is deleted (and counted) once; the repeat is not found."""
    profile = _find(uow, ident)
    if profile is None or profile.profile_id in seen:
        return None
    seen.add(profile.profile_id)
    return profile


def dry_run(uow: UnitOfWork, *, caller: Caller, batch: BatchRequest) -> dict[str, Any]:
    """What the batch would remove, per subject and per kind; changes nothing."""
    totals: Counter[str] = Counter()
    subjects = []
    seen: set[int] = set()
    for index, ident in enumerate(batch.subjects):
        profile = _find_once(uow, ident, seen)
        if profile is None:
            subjects.append({"index": index, "type": ident.id_type, "outcome": "not_found"})
            continue
        counts = preview_deletion(uow, profile=profile, mode=batch.mode)
        totals.update(counts)
        outcome = "suppressed" if batch.suppress and batch.mode == "hard" else "deleted"
        subjects.append(
            {"index": index, "type": ident.id_type, "outcome": outcome, "counts": counts}
        )
    return {
        "dry_run": True,
        "mode": batch.mode,
        "counts": dict(sorted(totals.items())),
        "subjects": subjects,
    }


def submit(
    uow: UnitOfWork,
    *,
    caller: Caller,
    batch: BatchRequest,
    idempotency_key: str | None,
    body_hash: str,
    confirmed: bool,
    now: int,
    hasher: SubjectHasher,
) -> tuple[int, dict[str, Any]]:
    """Accept a batch: (status, answer). A replayed Idempotency-Key returns the first answer."""
    if len(batch.subjects) > MAX_SUBJECTS:
        raise BatchTooLarge(MAX_SUBJECTS)
    if idempotency_key is not None:
        first = uow.idempotency.get(idempotency_key)
        if first is not None and now - int(first["created_at"]) < IDEMPOTENCY_TTL_MS:
            if first["request_hash"] != body_hash:
                raise IdempotencyMismatch()
            return int(first["status"]), dict(first["response"])
        if first is not None:
            uow.idempotency.forget(idempotency_key)
    if batch.dry_run:
        return 200, dry_run(uow, caller=caller, batch=batch)
    resolved = []
    seen: set[int] = set()
    for index, ident in enumerate(batch.subjects):
        profile = _find_once(uow, ident, seen)
        resolved.append(
            {
                "index": index,
                "type": ident.id_type,
                "subject_hash": hasher(ident.id_type, ident.value),
                "profile_id": None if profile is None else profile.profile_id,
            }
        )
    found = len({s["profile_id"] for s in resolved if s["profile_id"] is not None})
    admit_deletions(uow, tenant=caller.tenant, count=found, confirmed=confirmed, now=now)
    job_id = uow.jobs.enqueue(
        kind=DELETION_BATCH,
        payload={
            "mode": batch.mode,
            "suppress": batch.suppress,
            "subjects": resolved,
            "surface": caller.surface.value,
            "credential_ref": caller.credential_ref,
            "requested_at": now,
            "window": caller.tenant.revival_window_seconds,
        },
        now=now,
    )
    answer = status(uow, job_id=job_id)
    if idempotency_key is not None:
        uow.idempotency.remember(
            idempotency_key, request_hash=body_hash, status=202, response=answer, now=now
        )
    return 202, answer


def status(uow: UnitOfWork, *, job_id: int) -> dict[str, Any]:
    job = uow.job_views.get(job_id)
    if job is None or job["kind"] != DELETION_BATCH:
        raise JobNotFound()
    payload, result = job["payload"], job["result"] or {}
    outcomes = {int(k): v for k, v in (result.get("outcomes") or {}).items()}
    subjects = []
    for subject in payload["subjects"]:
        entry = {"index": subject["index"], "type": subject["type"]}
        entry.update(outcomes.get(subject["index"], {"outcome": "pending"}))
        subjects.append(entry)
    tally = Counter(s["outcome"] for s in subjects)
    return {
        "id": str(job_id),
        "state": job["state"],
        "mode": payload["mode"],
        "suppress": payload["suppress"],
        "subjects": subjects,
        "outcomes": dict(sorted(tally.items())),
        "counts": dict(sorted((result.get("counts") or {}).items())),
        "reason": result.get("reason"),
        "attempts": job["attempts"],
        "last_error": job["last_error"],
        "created_at": job["created_at"],
        "updated_at": job["updated_at"],
        "finished_at": job["finished_at"],
    }


def cancel(uow: UnitOfWork, *, job_id: int, now: int) -> dict[str, Any]:
    job = uow.job_views.get(job_id, for_update=True)
    if job is None or job["kind"] != DELETION_BATCH:
        raise JobNotFound()
    if job["state"] != JobState.QUEUED.value:
        raise NotCancellable(str(job["state"]))
    if (job["result"] or {}).get("outcomes"):
        # Queued again only to wait for its purges: its deletions have begun.
        raise NotCancellable(JobState.RUNNING.value)
    if not uow.job_views.cancel_if_queued(job_id, now=now):
        raise NotCancellable(str(job["state"]))
    return status(uow, job_id=job_id)


# --- the worker's side ---------------------------------------------------------------------


def dispatch_step(
    uow: UnitOfWork,
    *,
    tenant_id: str,
    job_id: int,
    payload: dict[str, Any],
    worker_id: str,
    now: int,
    hasher: SubjectHasher,
    chunk: int = 50,
) -> str:
    """One transaction of batch work. Returns "more", "wait" (purges running) or "done"."""
    result = uow.jobs.hold(job_id, worker_id)
    if result is None:
        return "done"
    outcomes: dict[str, Any] = dict(result.get("outcomes") or {})
    children: dict[str, int] = dict(result.get("children") or {})
    pending = [s for s in payload["subjects"] if str(s["index"]) not in outcomes]
    if pending:
        for subject in pending[:chunk]:
            outcomes[str(subject["index"])] = _delete_one(
                uow,
                payload=payload,
                subject=subject,
                tenant_id=tenant_id,
                job_id=job_id,
                children=children,
                now=now,
                hasher=hasher,
            )
        uow.jobs.set_result(job_id, {**result, "outcomes": outcomes, "children": children}, now=now)
        return "more"
    states = uow.job_views.states(list(children.values()))
    if any(states[c]["state"] not in TERMINAL_JOB_STATES for c in children.values()):
        return "wait"
    _finish(uow, job_id=job_id, payload=payload, result=result, states=states, now=now)
    return "done"


def _delete_one(
    uow: UnitOfWork,
    *,
    payload: dict[str, Any],
    subject: dict[str, Any],
    tenant_id: str,
    job_id: int,
    children: dict[str, int],
    now: int,
    hasher: SubjectHasher,
) -> dict[str, Any]:
    profile_id = subject["profile_id"]
    suppress = bool(payload["suppress"]) and payload["mode"] == "hard"
    if suppress:
        uow.suppressions.add(subject["type"], subject["subject_hash"], now=now, job_id=job_id)
    profile = None if profile_id is None else uow.profiles.get(profile_id, for_update=True)
    if profile is None or profile.state is ProfileState.PURGING:
        return {"outcome": "not_found"}
    requester = _requester(payload, tenant_id)
    if payload["mode"] == "soft":
        hidden = int(profile.state is ProfileState.ACTIVE)
        if hidden:
            soft_delete_found(uow, caller=requester, profile=profile, now=now)
        return {"outcome": "deleted", "counts": {"profiles": hidden}}
    if suppress:
        suppress_profile(uow, profile_id=profile.profile_id, now=now, hasher=hasher, job_id=job_id)
    children[str(subject["index"])] = begin_purge_of(
        uow,
        caller=requester,
        profile=profile,
        subject_hash=subject["subject_hash"],
        now=now,
    )
    return {"outcome": "suppressed" if suppress else "deleted"}


def _requester(payload: dict[str, Any], tenant_id: str) -> Caller:
    """Who asked for the batch, as the single-subject services expect a caller."""
    tenant = Tenant(tenant_id=tenant_id, name="", revival_window_seconds=float(payload["window"]))
    return Caller(
        tenant=tenant,
        surface=Surface(payload["surface"]),
        credential_ref=str(payload["credential_ref"]),
    )


def _finish(
    uow: UnitOfWork,
    *,
    job_id: int,
    payload: dict[str, Any],
    result: dict[str, Any],
    states: dict[int, dict[str, Any]],
    now: int,
) -> None:
    outcomes: dict[str, Any] = dict(result["outcomes"])
    children: dict[str, int] = dict(result.get("children") or {})
    totals: Counter[str] = Counter()
    problems: list[str] = []
    for index, child in children.items():
        child_state = states[child]
        counts = dict((child_state["result"] or {}).get("counts") or {})
        outcomes[index] = {**outcomes[index], "counts": counts}
        totals.update(counts)
        if child_state["state"] != JobState.COMPLETED.value:
            reason = (child_state["result"] or {}).get("reason") or child_state["last_error"]
            outcomes[index] = {"outcome": "failed", "reason": str(reason), "counts": counts}
            problems.append(f"subject {index}: {reason}")
    for outcome in outcomes.values():
        if payload["mode"] == "soft" and outcome["outcome"] == "deleted":
            totals.update(outcome.get("counts") or {})
    # The closing check: nothing of any hard-deleted subject may be left in any target.
    if payload["mode"] == "hard":
        for subject in payload["subjects"]:
            if subject["profile_id"] is None:
                continue
            left = {
                k: n
                for k, n in uow.person_rows.count("profile", subject["profile_id"]).items()
                if n
            }
            if left:
                rows = ", ".join(f"{k}={n}" for k, n in sorted(left.items()))
                problems.append(f"subject {subject['index']}: rows left after the purge: {rows}")
                outcomes[str(subject["index"])] = {
                    "outcome": "failed",
                    "reason": f"rows left after the purge: {rows}",
                }
    state = JobState.PARTIAL if problems else JobState.COMPLETED
    uow.jobs.finish(
        job_id,
        state=state.value,
        result={
            "outcomes": outcomes,
            "children": children,
            "counts": dict(sorted(totals.items())),
            "reason": "; ".join(problems) or None,
        },
        now=now,
    )
