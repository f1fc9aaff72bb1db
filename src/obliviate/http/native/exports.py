"""Subject access exports: ``/api/v1/profiles/{uuid}/export`` and ``/api/v1/exports``.

The documents stream (``StreamingResponse``): a person with millions of events is sent page by
page as it is read. Every error that can be known is raised before the first byte, so it gets
the native problem envelope; a database failure mid-stream can only cut the body short.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from obliviate.domain.errors import BatchTooLarge, ExportJobNotFound, ValidationError
from obliviate.domain.exports import MAX_EXPORT_SUBJECTS, ExportJobStatus
from obliviate.domain.identifiers import identifier
from obliviate.domain.tenants import Caller
from obliviate.http.body import read_json
from obliviate.http.json import json_response
from obliviate.http.native import schemas as sc
from obliviate.http.native.operations import PREFIX, Operation, QueryParam
from obliviate.http.native.params import job_id_param
from obliviate.http.runtime import Runtime
from obliviate.services import exports


class ExportsIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    subjects: list[sc.Subject] = Field(min_length=1)


class ExportOut(BaseModel):
    subject: dict[str, Any]
    identifiers: list[dict[str, str]]
    attributes: dict[str, Any]
    events: list[dict[str, Any]]
    # Each {"registration_id","platform","timezone","info","tags","alias"}.
    devices: list[dict[str, Any]]
    merges: list[dict[str, Any]]
    suppressed: list[dict[str, str]]
    receipts: list[dict[str, Any]]


class ExportJobOut(BaseModel):
    id: str
    kind: str
    state: str
    # Each {"index","type","outcome","profiles"}: outcome pending, found or not_found.
    subjects: list[dict[str, Any]]
    attempts: int
    last_error: str | None
    created_at: int
    updated_at: int
    finished_at: int | None


class ExportDownloadOut(BaseModel):
    id: str
    # Each {"index","type","outcome","exports":[ExportOut...]}.
    subjects: list[dict[str, Any]]


def export_job_json(job: ExportJobStatus) -> dict[str, Any]:
    return {
        "id": str(job.job_id),
        "kind": "export",
        "state": job.state.value,
        "subjects": [
            {
                "index": s.index,
                "type": s.id_type,
                "outcome": s.resolution.outcome.value,
                "profiles": len(s.resolution.profile_ids),
            }
            for s in job.subjects
        ],
        "attempts": job.attempts,
        "last_error": job.last_error,
        "created_at": job.created_at,
        "updated_at": job.updated_at,
        "finished_at": job.finished_at,
    }


class ExportsApi:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    async def export_profile(self, request: Request, caller: Caller) -> Response:
        chunks = await exports.open_profile_export(
            self.rt.transactions,
            caller=caller,
            uuid=request.path_params["uuid"],
            hasher=self.rt.hasher,
            clock=self.rt.clock,
        )
        self.rt.metrics.exports.labels("profile").inc()
        return StreamingResponse(chunks, media_type="application/json")

    async def submit_export(self, request: Request, caller: Caller) -> Response:
        raw = await read_json(request, self.rt.max_body_bytes)
        subjects_raw = raw.get("subjects") if isinstance(raw, dict) else None
        if isinstance(subjects_raw, list) and len(subjects_raw) > MAX_EXPORT_SUBJECTS:
            raise BatchTooLarge(MAX_EXPORT_SUBJECTS)
        body = sc.parse_body(ExportsIn, raw)
        subjects = [
            identifier(s.type, s.value, field=f"subjects.{i}") for i, s in enumerate(body.subjects)
        ]
        key = request.headers.get("idempotency-key")
        if key is not None and not 0 < len(key) <= 255:
            raise ValidationError("Idempotency-Key", "must be 1-255 characters")
        answer = await self.rt.write(
            caller.tenant.tenant_id,
            lambda uow, now: exports.submit_export(
                uow,
                caller=caller,
                subjects=subjects,
                idempotency_key=key,
                body_hash=exports.request_hash(raw),
                now=now,
            ),
        )
        if not answer.replayed:
            self.rt.metrics.exports.labels("batch").inc()
        return json_response(export_job_json(answer.job), status=202)

    async def export_job_status(self, request: Request, caller: Caller) -> Response:
        job_id = job_id_param(request, ExportJobNotFound)
        job = await self.rt.read(
            caller.tenant.tenant_id, lambda uow: exports.export_status(uow, job_id=job_id)
        )
        return json_response(export_job_json(job))

    async def download_export(self, request: Request, caller: Caller) -> Response:
        chunks = await exports.open_job_download(
            self.rt.transactions,
            caller=caller,
            job_id=job_id_param(request, ExportJobNotFound),
            hasher=self.rt.hasher,
            clock=self.rt.clock,
        )
        return StreamingResponse(chunks, media_type="application/json")


def operations(api: ExportsApi) -> list[Operation]:
    return [
        Operation(
            method="GET",
            path=f"{PREFIX}/profiles/{{uuid}}/export",
            handler=api.export_profile,
            scope="read",
            summary="Everything held on one person (GDPR Art. 15/20), streamed; recorded in "
            "the audit chain",
            response=ExportOut,
        ),
        Operation(
            method="POST",
            path=f"{PREFIX}/exports",
            handler=api.submit_export,
            scope="read",
            summary="Export up to 1,000 subjects by any identifier in one job "
            "(Idempotency-Key honoured for 24 h)",
            status=202,
            body=ExportsIn,
            response=ExportJobOut,
            headers=(QueryParam("Idempotency-Key", "replays the first answer"),),
        ),
        Operation(
            method="GET",
            path=f"{PREFIX}/exports/{{job_id}}",
            handler=api.export_job_status,
            scope="read",
            summary="An export job's state and per-subject outcome",
            response=ExportJobOut,
        ),
        Operation(
            method="GET",
            path=f"{PREFIX}/exports/{{job_id}}/download",
            handler=api.download_export,
            scope="read",
            summary="A completed export job's documents, streamed (409 while it runs); "
            "recorded in the audit chain",
            response=ExportDownloadOut,
        ),
    ]
