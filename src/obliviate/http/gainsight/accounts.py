"""Gainsight PX ``/v1/accounts``: the organisations users belong to, in Gainsight's shape."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from obliviate.domain.errors import ValidationError
from obliviate.domain.tenants import Caller
from obliviate.http.body import read_capped, read_json
from obliviate.http.gainsight import query
from obliviate.http.gainsight import translate as tr
from obliviate.http.gainsight.query import FieldKind, Fields, SortKey
from obliviate.http.gainsight.schemas import AccountIn
from obliviate.http.json import json_response
from obliviate.http.runtime import Runtime, mass_delete_confirmed
from obliviate.services import accounts
from obliviate.services.accounts import AccountView

STRING_FIELDS = (
    "name",
    "trackedSubscriptionId",
    "sfdcId",
    "dunsNumber",
    "industry",
    "sicCode",
    "website",
    "naicsCode",
    "plan",
    "parentGroupId",
    "gsId",
    "csm",
)
INTEGER_FIELDS = ("lastSeenDate", "numberOfEmployees", "renewalDate", "healthScore")
DATE_FIELDS = frozenset({"lastSeenDate", "renewalDate", "createDate", "lastModifiedDate"})
FIELDS = Fields(
    kinds={
        "id": FieldKind.TEXT,
        **dict.fromkeys(STRING_FIELDS, FieldKind.TEXT),
        **{
            name: FieldKind.DATE if name in DATE_FIELDS else FieldKind.NUMBER
            for name in (*INTEGER_FIELDS, "nps", "numberOfUsers", "createDate", "lastModifiedDate")
        },
    },
    open_objects=frozenset({"customAttributes", "location"}),
)


def account_to_wire(view: AccountView) -> dict[str, Any]:
    attrs = view.account.attributes
    wire: dict[str, Any] = {"id": view.account.account_id}
    for name in STRING_FIELDS:
        wire[name] = attrs.get(name) if isinstance(attrs.get(name), str) else ""
    for name in INTEGER_FIELDS:
        number = attrs.get(name)
        wire[name] = number if isinstance(number, int) and not isinstance(number, bool) else 0
    nps = attrs.get("nps")
    location = attrs.get("location")
    custom = attrs.get("customAttributes")
    keys = attrs.get("propertyKeys")
    wire.update(
        nps=float(nps) if isinstance(nps, int | float) and not isinstance(nps, bool) else 0.0,
        location=location if isinstance(location, dict) else None,
        numberOfUsers=view.users,
        propertyKeys=[k for k in keys if isinstance(k, str)] if isinstance(keys, list) else [],
        createDate=view.account.created_at,
        lastModifiedDate=view.account.updated_at,
        customAttributes=custom if isinstance(custom, dict) else None,
    )
    return wire


def attributes_from_account(account: AccountIn) -> dict[str, Any]:
    """Only the fields the client sent, so an update keeps what it left out."""
    sent = account.model_dump(include=account.model_fields_set - {"id"})
    if isinstance(sent.get("location"), dict):
        sent["location"] = {k: v for k, v in sent["location"].items() if v is not None}
    return sent


class AccountsApi:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    async def _account(self, request: Request) -> AccountIn:
        return tr.parse_model(AccountIn, await read_json(request, self.rt.max_body_bytes))

    async def create(self, request: Request, caller: Caller) -> Response:
        account = await self._account(request)
        if not account.id:
            raise ValidationError("id", "is required")
        if not account.name:
            raise ValidationError("name", "is required")
        if not account.propertyKeys or not all(account.propertyKeys):
            raise ValidationError("propertyKeys", "at least one property key is required")
        account_id, attributes = account.id, attributes_from_account(account)
        view = await self.rt.write(
            caller.tenant.tenant_id,
            lambda uow, now: accounts.create_account(
                uow, account_id=account_id, attributes=attributes, now=now
            ),
        )
        return json_response(account_to_wire(view), status=201)

    async def _update(self, caller: Caller, account_id: str, account: AccountIn) -> Response:
        changes = attributes_from_account(account)
        await self.rt.write(
            caller.tenant.tenant_id,
            lambda uow, now: accounts.update_account(
                uow, account_id=account_id, changes=changes, now=now
            ),
        )
        return Response(status_code=204)

    async def update(self, request: Request, caller: Caller) -> Response:
        account = await self._account(request)
        return await self._update(caller, request.path_params["account_id"], account)

    async def update_by_body(self, request: Request, caller: Caller) -> Response:
        account = await self._account(request)
        # A body without an id addresses the account whose id is literally "update".
        return await self._update(caller, account.id or "update", account)

    async def get(self, request: Request, caller: Caller) -> Response:
        account_id = request.path_params["account_id"]
        view = await self.rt.read(
            caller.tenant.tenant_id,
            lambda uow: accounts.get_account(uow, account_id=account_id),
            point=True,
        )
        return json_response(account_to_wire(view))

    async def delete(self, request: Request, caller: Caller) -> Response:
        await read_capped(request, self.rt.max_body_bytes)
        account_id = request.path_params["account_id"]
        confirmed = mass_delete_confirmed(request)
        await self.rt.write(
            caller.tenant.tenant_id,
            lambda uow, now: accounts.delete_account(
                uow, caller=caller, account_id=account_id, now=now, confirmed=confirmed
            ),
        )
        return json_response(tr.DELETED)

    async def list(self, request: Request, caller: Caller) -> Response:
        state = tr.list_state(request.query_params)
        flt = query.parse_filters(state["q"], FIELDS)
        sort = query.parse_sort(state["o"], FIELDS) or (SortKey("id", False),)
        after = tr.scroll_position(state.get("k"), sort, tie=str)
        limit = int(state["n"])

        def page(uow: Any) -> tuple[list[dict[str, Any]], int]:
            wires = (account_to_wire(v) for v in accounts.scan_accounts(uow))
            return query.page_of(
                (w for w in wires if query.matches(w, flt)),
                place=lambda w: query.position(w, sort, w["id"]),
                sort=sort,
                after=after,
                limit=limit,
            )

        found, total = await self.rt.read(caller.tenant.tenant_id, page)
        if found:
            state["k"] = tr.scroll_key(query.position(found[-1], sort, found[-1]["id"]))
        return json_response(
            {"accounts": found, "totalHits": total, "scrollId": tr.encode_cursor(state)}
        )
