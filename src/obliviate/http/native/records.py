"""Native records: deletion receipts and suppressions."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from obliviate.domain.deletion import Erasure
from obliviate.domain.devices import REGISTRATION_ID, validate_registration_id
from obliviate.domain.errors import ReceiptNotFound, SuppressionNotFound
from obliviate.domain.identifiers import Identifier, identifier
from obliviate.domain.tenants import Caller
from obliviate.http.body import read_capped, read_json
from obliviate.http.json import json_response
from obliviate.http.native import schemas as sc
from obliviate.http.native.jobs import erasure_json
from obliviate.http.native.operations import PAGE, PREFIX, Operation, QueryParam
from obliviate.http.native.params import DEFAULT_PAGE, MAX_PAGE, int_param
from obliviate.http.runtime import Runtime
from obliviate.services.ports import UnitOfWork
from obliviate.services.suppression import is_suppressed, suppress, unsuppress


def _receipt_json(row: dict[str, Any]) -> dict[str, Any]:
    body = {k: v for k, v in row.items() if k != "tenant_id"}
    body["job_id"] = str(body["job_id"])
    body["erasure"] = erasure_json(Erasure.of_receipt(body.get("erased_at")))
    return body


def _subject(id_type: str, value: str) -> Identifier:
    if id_type == REGISTRATION_ID:
        # Hard deletes also suppress the registration ids of the person's devices.
        return Identifier(REGISTRATION_ID, validate_registration_id(value, "value"))
    return identifier(id_type, value, field="type")


class RecordsApi:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    async def _json(self, request: Request) -> Any:
        return await read_json(request, self.rt.max_body_bytes)

    async def get_receipt(self, request: Request, caller: Caller) -> Response:
        receipt_id = request.path_params["receipt_id"]

        def read(uow: UnitOfWork) -> dict[str, Any]:
            row = uow.receipts.by_id(receipt_id)
            if row is None:
                raise ReceiptNotFound()
            return _receipt_json(row)

        return json_response(await self.rt.read(caller.tenant.tenant_id, read))

    async def list_receipts(self, request: Request, caller: Caller) -> Response:
        since = int_param(request, "since", 0) or 0
        after = int_param(request, "cursor", 0) or 0
        limit = int_param(request, "limit", DEFAULT_PAGE, MAX_PAGE) or DEFAULT_PAGE
        rows = await self.rt.read(
            caller.tenant.tenant_id,
            lambda uow: uow.receipts.completed_since(since, after_seq=after, limit=limit),
        )
        cursor = str(rows[-1]["seq"]) if len(rows) == limit else None
        return json_response({"receipts": [_receipt_json(r) for r in rows], "next_cursor": cursor})

    async def add_suppression(self, request: Request, caller: Caller) -> Response:
        body = sc.parse_body(sc.SuppressionIn, await self._json(request))
        ident = _subject(body.type, body.value)
        await self.rt.write(
            caller.tenant.tenant_id,
            lambda uow, now: suppress(uow, ident=ident, now=now, hasher=self.rt.hasher),
        )
        return json_response({"type": ident.id_type, "suppressed": True}, status=201)

    async def get_suppression(self, request: Request, caller: Caller) -> Response:
        ident = _subject(request.path_params["type"], request.path_params["value"])
        found = await self.rt.read(
            caller.tenant.tenant_id,
            lambda uow: is_suppressed(uow, ident=ident, hasher=self.rt.hasher),
        )
        if not found:
            raise SuppressionNotFound()
        return json_response({"type": ident.id_type, "suppressed": True})

    async def list_suppressions(self, request: Request, caller: Caller) -> Response:
        limit = int_param(request, "limit", DEFAULT_PAGE, MAX_PAGE) or DEFAULT_PAGE
        raw_cursor = request.query_params.get("cursor")
        after = tuple(raw_cursor.split(":", 1)) if raw_cursor and ":" in raw_cursor else None
        rows = await self.rt.read(
            caller.tenant.tenant_id,
            lambda uow: uow.suppressions.page(after=after, limit=limit),  # type: ignore[arg-type]
        )
        items = [
            {"type": r["id_type"], "value_hash": r["value_hash"], "created_at": r["created_at"]}
            for r in rows
        ]
        cursor = f"{rows[-1]['id_type']}:{rows[-1]['value_hash']}" if len(rows) == limit else None
        return json_response({"suppressions": items, "next_cursor": cursor})

    async def remove_suppression(self, request: Request, caller: Caller) -> Response:
        await read_capped(request, self.rt.max_body_bytes)
        ident = _subject(request.path_params["type"], request.path_params["value"])
        removed = await self.rt.write(
            caller.tenant.tenant_id,
            lambda uow, now: unsuppress(uow, ident=ident, hasher=self.rt.hasher, now=now),
        )
        if not removed:
            raise SuppressionNotFound()
        return Response(status_code=204)


def operations(api: RecordsApi) -> list[Operation]:
    return [
        Operation(
            method="GET",
            path=f"{PREFIX}/receipts/{{receipt_id}}",
            handler=api.get_receipt,
            scope="read",
            summary="A deletion receipt",
            response=sc.ReceiptOut,
        ),
        Operation(
            method="GET",
            path=f"{PREFIX}/receipts",
            handler=api.list_receipts,
            scope="read",
            summary="Receipts completed since a time",
            query=(QueryParam("since", "epoch ms", "integer"), *PAGE),
        ),
        Operation(
            method="GET",
            path=f"{PREFIX}/suppressions",
            handler=api.list_suppressions,
            scope="admin",
            summary="List suppressions (keyed hashes only)",
            query=PAGE,
        ),
        Operation(
            method="POST",
            path=f"{PREFIX}/suppressions",
            handler=api.add_suppression,
            scope="admin",
            summary="Suppress an identifier",
            status=201,
            body=sc.SuppressionIn,
        ),
        Operation(
            method="GET",
            path=f"{PREFIX}/suppressions/{{type}}/{{value}}",
            handler=api.get_suppression,
            scope="admin",
            summary="Is this identifier suppressed?",
        ),
        Operation(
            method="DELETE",
            path=f"{PREFIX}/suppressions/{{type}}/{{value}}",
            handler=api.remove_suppression,
            scope="admin",
            summary="Lift a suppression",
            status=204,
        ),
    ]
