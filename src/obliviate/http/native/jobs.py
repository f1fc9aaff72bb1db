"""The wire form of deletion jobs, dry runs and erasure, as the native API answers them."""

from __future__ import annotations

from typing import Any

from obliviate.domain.batches import DryRun, JobStatus, SubjectStatus
from obliviate.domain.deletion import Erasure


def erasure_json(erasure: Erasure) -> dict[str, Any]:
    return {"state": erasure.state.value, "at": erasure.at}


def _subject_json(subject: SubjectStatus) -> dict[str, Any]:
    body: dict[str, Any] = {
        "index": subject.index,
        "type": subject.id_type,
        "outcome": subject.outcome.outcome.value,
    }
    if subject.outcome.counts is not None:
        body["counts"] = dict(sorted(subject.outcome.counts.items()))
    if subject.outcome.reason is not None:
        body["reason"] = subject.outcome.reason
    return body


def job_json(job: JobStatus) -> dict[str, Any]:
    return {
        "id": str(job.job_id),
        "kind": job.kind.value,
        "state": job.state.value,
        "erasure": None if job.erasure is None else erasure_json(job.erasure),
        "receipt_id": job.receipt_id,
        "mode": job.mode.value,
        "suppress": job.suppress,
        "subjects": [_subject_json(s) for s in job.subjects],
        "outcomes": {outcome.value: n for outcome, n in job.outcomes.items()},
        "counts": dict(sorted(job.counts.items())),
        "reason": job.reason,
        "attempts": job.attempts,
        "last_error": job.last_error,
        "created_at": job.created_at,
        "updated_at": job.updated_at,
        "finished_at": job.finished_at,
    }


def dry_run_json(preview: DryRun) -> dict[str, Any]:
    return {
        "dry_run": True,
        "mode": preview.mode.value,
        "counts": dict(sorted(preview.counts.items())),
        "subjects": [_subject_json(s) for s in preview.subjects],
    }
