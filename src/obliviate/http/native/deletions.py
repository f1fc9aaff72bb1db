"""Native batch deletions: submit a batch (or a dry run), follow a job, cancel it."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from obliviate.domain.batches import DryRun
from obliviate.domain.errors import BatchTooLarge, JobNotFound, ValidationError
from obliviate.domain.identifiers import identifier
from obliviate.domain.tenants import Caller
from obliviate.http.body import read_capped, read_json
from obliviate.http.json import json_response
from obliviate.http.native import schemas as sc
from obliviate.http.native.jobs import dry_run_json, job_json
from obliviate.http.native.operations import CONFIRM, PREFIX, Operation, QueryParam
from obliviate.http.native.params import job_id_param
from obliviate.http.runtime import Runtime, mass_delete_confirmed
from obliviate.services import batches
from obliviate.services.batches import BatchRequest


class DeletionsApi:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    async def submit_deletions(self, request: Request, caller: Caller) -> Response:
        raw = await read_json(request, self.rt.max_body_bytes)
        subjects_raw = raw.get("subjects") if isinstance(raw, dict) else None
        if isinstance(subjects_raw, list) and len(subjects_raw) > batches.MAX_SUBJECTS:
            raise BatchTooLarge(batches.MAX_SUBJECTS)
        body = sc.parse_body(sc.DeletionsIn, raw)
        if body.suppress and body.mode != "hard":
            raise ValidationError("suppress", "needs mode=hard")
        subjects = [
            identifier(s.type, s.value, field=f"subjects.{i}") for i, s in enumerate(body.subjects)
        ]
        batch = BatchRequest(subjects, body.mode, body.suppress, body.dry_run)
        key = request.headers.get("idempotency-key")
        if key is not None and not 0 < len(key) <= 255:
            raise ValidationError("Idempotency-Key", "must be 1-255 characters")
        confirmed = mass_delete_confirmed(request)
        answer = await self.rt.write(
            caller.tenant.tenant_id,
            lambda uow, now: batches.submit(
                uow,
                caller=caller,
                batch=batch,
                idempotency_key=key,
                body_hash=batches.request_hash(raw),
                confirmed=confirmed,
                now=now,
                hasher=self.rt.hasher,
            ),
        )
        if isinstance(answer, DryRun):
            return json_response(dry_run_json(answer))
        # A replay answers as the first request was answered: accepted.
        return json_response(job_json(answer.job), status=202)

    async def deletion_status(self, request: Request, caller: Caller) -> Response:
        job_id = job_id_param(request, JobNotFound)
        job = await self.rt.read(
            caller.tenant.tenant_id, lambda uow: batches.status(uow, job_id=job_id)
        )
        return json_response(job_json(job))

    async def cancel_deletion(self, request: Request, caller: Caller) -> Response:
        await read_capped(request, self.rt.max_body_bytes)
        job_id = job_id_param(request, JobNotFound)
        job = await self.rt.write(
            caller.tenant.tenant_id, lambda uow, now: batches.cancel(uow, job_id=job_id, now=now)
        )
        return json_response(job_json(job))


def operations(api: DeletionsApi) -> list[Operation]:
    return [
        Operation(
            method="POST",
            path=f"{PREFIX}/deletions",
            handler=api.submit_deletions,
            scope="delete",
            summary="Delete up to 1,000 subjects in one job (Idempotency-Key honoured for 24 h)",
            status=202,
            body=sc.DeletionsIn,
            response=sc.JobOut,
            headers=(QueryParam("Idempotency-Key", "replays the first answer"), *CONFIRM),
            also=((200, None),),
        ),
        Operation(
            method="GET",
            path=f"{PREFIX}/deletions/{{job_id}}",
            handler=api.deletion_status,
            scope="read",
            summary="A deletion job's state, per-subject outcome and counts",
            response=sc.JobOut,
        ),
        Operation(
            method="POST",
            path=f"{PREFIX}/deletions/{{job_id}}/cancel",
            handler=api.cancel_deletion,
            scope="delete",
            summary="Cancel a deletion job that is still queued",
            response=sc.JobOut,
        ),
    ]
