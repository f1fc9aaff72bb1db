"""Following deletion jobs, browsing receipts and verifying their chain, and suppressions."""

from __future__ import annotations

from typing import Any

from starlette.responses import RedirectResponse, Response

from obliviate.domain.deletion import TERMINAL_JOB_STATES, Erasure, ErasureState
from obliviate.domain.devices import REGISTRATION_ID, validate_registration_id
from obliviate.domain.errors import JobNotFound, ReceiptNotFound, SuppressionNotFound
from obliviate.domain.events import INT64_MAX
from obliviate.domain.identifiers import Identifier
from obliviate.http.console.people import ID_TYPES, subject_of
from obliviate.http.console.render import Visit, render
from obliviate.http.runtime import Runtime
from obliviate.services import audit, batches
from obliviate.services.ports import UnitOfWork
from obliviate.services.suppression import suppress, unsuppress

PAGE = 50
# A job page reloads itself (meta refresh, no script) this often until the job has ended and
# its erasure is done.
REFRESH_S = 2
SUPPRESSION_TYPES = (*ID_TYPES, REGISTRATION_ID)
# What a redirect after a change may say; a code, so no text of the request is echoed back.
NOTICES = {
    "added": "The identifier is suppressed.",
    "lifted": "The suppression is lifted: the identifier may be created again.",
    "cancelled": "The job is cancelled.",
}


def job_id_of(raw: str) -> int:
    # A job id is a 64-bit row id in ASCII digits; anything else names no job.
    if not (raw.isascii() and raw.isdigit()) or int(raw) > INT64_MAX:
        raise JobNotFound()
    return int(raw)


def _cursor(raw: str | None) -> int:
    return int(raw) if raw is not None and raw.isascii() and raw.isdigit() else 0


def _suppression_subject(fields: dict[str, str]) -> Identifier:
    if fields.get("type") == REGISTRATION_ID:
        return Identifier(REGISTRATION_ID, validate_registration_id(fields.get("value"), "value"))
    return subject_of(fields)


def _notice(visit: Visit) -> str | None:
    return NOTICES.get(visit.request.query_params.get("notice", ""))


class RecordPages:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    async def find_job(self, visit: Visit) -> Response:
        job_id = job_id_of(visit.request.query_params.get("id", "").strip())
        return RedirectResponse(f"/console/jobs/{job_id}", status_code=303)

    async def job(self, visit: Visit) -> Response:
        job_id = job_id_of(visit.request.path_params["job_id"])
        job = await self.rt.read(
            visit.caller.tenant.tenant_id, lambda uow: batches.status(uow, job_id=job_id)
        )
        erasing = job.erasure is not None and job.erasure.state is ErasureState.PENDING
        settled = job.state in TERMINAL_JOB_STATES and not erasing
        return render(
            "job.html",
            visit=visit,
            job=job,
            refresh=None if settled else REFRESH_S,
            notice=_notice(visit),
        )

    async def cancel_job(self, visit: Visit) -> Response:
        job_id = job_id_of(visit.request.path_params["job_id"])
        await self.rt.write(
            visit.caller.tenant.tenant_id,
            lambda uow, now: batches.cancel(uow, job_id=job_id, now=now),
        )
        return RedirectResponse(f"/console/jobs/{job_id}?notice=cancelled", status_code=303)

    async def receipts(self, visit: Visit) -> Response:
        after = _cursor(visit.request.query_params.get("cursor"))
        rows = await self.rt.read(
            visit.caller.tenant.tenant_id,
            lambda uow: uow.receipts.completed_since(0, after_seq=after, limit=PAGE),
        )
        more = str(rows[-1]["seq"]) if len(rows) == PAGE else None
        return render(
            "receipts.html", visit=visit, receipts=[_receipt(r) for r in rows], next_cursor=more
        )

    async def receipt(self, visit: Visit) -> Response:
        receipt_id = visit.request.path_params["receipt_id"]

        def read(uow: UnitOfWork) -> dict[str, Any]:
            row = uow.receipts.by_id(receipt_id)
            if row is None:
                raise ReceiptNotFound()
            return _receipt(row)

        found = await self.rt.read(visit.caller.tenant.tenant_id, read)
        return render("receipt.html", visit=visit, receipt=found)

    async def verify(self, visit: Visit) -> Response:
        problem = await self.rt.read(visit.caller.tenant.tenant_id, audit.verify_tenant)
        return render("verify.html", visit=visit, problem=problem)

    async def suppressions(self, visit: Visit) -> Response:
        raw = visit.request.query_params.get("cursor")
        after = tuple(raw.split(":", 1)) if raw and ":" in raw else None
        rows = await self.rt.read(
            visit.caller.tenant.tenant_id,
            lambda uow: uow.suppressions.page(after=after, limit=PAGE),  # type: ignore[arg-type]
        )
        more = f"{rows[-1]['id_type']}:{rows[-1]['value_hash']}" if len(rows) == PAGE else None
        return render(
            "suppressions.html",
            visit=visit,
            suppressions=rows,
            next_cursor=more,
            id_types=SUPPRESSION_TYPES,
            notice=_notice(visit),
        )

    async def add_suppression(self, visit: Visit) -> Response:
        ident = _suppression_subject(visit.form)
        await self.rt.write(
            visit.caller.tenant.tenant_id,
            lambda uow, now: suppress(uow, ident=ident, now=now, hasher=self.rt.hasher),
        )
        return RedirectResponse("/console/suppressions?notice=added", status_code=303)

    async def lift_suppression(self, visit: Visit) -> Response:
        ident = _suppression_subject(visit.form)
        removed = await self.rt.write(
            visit.caller.tenant.tenant_id,
            lambda uow, now: unsuppress(uow, ident=ident, hasher=self.rt.hasher, now=now),
        )
        if not removed:
            raise SuppressionNotFound()
        return RedirectResponse("/console/suppressions?notice=lifted", status_code=303)


def _receipt(row: dict[str, Any]) -> dict[str, Any]:
    body = {k: v for k, v in row.items() if k != "tenant_id"}
    body["erasure"] = Erasure.of_receipt(row.get("erased_at"))
    return body
