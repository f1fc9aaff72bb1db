"""Gainsight PX ``/v1`` users and custom events, over the shared services."""

from __future__ import annotations

from functools import partial
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from obliviate.domain.errors import AuthenticationError, ValidationError
from obliviate.domain.events import INT64_MAX, INT64_MIN
from obliviate.domain.tenants import Caller
from obliviate.http.apidoc import document_route
from obliviate.http.body import read_capped, read_json
from obliviate.http.gainsight import query
from obliviate.http.gainsight import translate as tr
from obliviate.http.gainsight.accounts import AccountsApi
from obliviate.http.gainsight.catalog import CONTENT_LISTS, EVENT_HISTORIES, CatalogApi
from obliviate.http.gainsight.errors import to_response
from obliviate.http.gainsight.fields import (
    USER_FIELDS,
    event_query,
    event_sort_descending,
    split_identify_id,
)
from obliviate.http.gainsight.openapi import PATH as OPENAPI_PATH
from obliviate.http.gainsight.openapi import openapi_document
from obliviate.http.gainsight.query import SortKey
from obliviate.http.gainsight.schemas import CustomEventIn, IdentifyIdBody, UserIn
from obliviate.http.json import json_response
from obliviate.http.logging import log_subject
from obliviate.http.runtime import Runtime, mass_delete_confirmed, surface_endpoint
from obliviate.services import deletions, events, profiles

SURFACE = "gainsight"
API_KEY_HEADER = "x-aptrinsic-api-key"


class GainsightApi:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    async def authenticate(self, request: Request) -> Caller:
        if "identify_id" in request.path_params:
            # Logs name the subject only by its keyed hash.
            log_subject(request.scope, self.rt.hasher, "uuid", request.path_params["identify_id"])
        key = request.headers.get(API_KEY_HEADER)
        if not key:
            raise AuthenticationError("missing API key")
        return await self.rt.authenticated(
            request, f"gainsight:{key}", partial(self.rt.authenticator.gainsight, key)
        )

    async def _body(self, request: Request, *, allow_empty: bool = False) -> Any:
        return await read_json(request, self.rt.max_body_bytes, allow_empty=allow_empty)

    # --- users -------------------------------------------------------------------------

    async def create_user(self, request: Request, caller: Caller) -> Response:
        user = tr.parse_model(UserIn, await self._body(request))
        uuid = tr.validate_new_user(user)
        attributes = tr.attributes_from_user(user)
        view, _revived = await self.rt.write(
            caller.tenant.tenant_id,
            lambda uow, now: profiles.create_profile(
                uow,
                uuid=uuid,
                attributes=attributes,
                now=now,
                hasher=self.rt.hasher,
            ),
        )
        return json_response(tr.user_to_wire(view), status=201)

    async def _update(self, caller: Caller, uuid: str, user: UserIn) -> Response:
        changes = tr.attributes_from_user(user)
        await self.rt.write(
            caller.tenant.tenant_id,
            lambda uow, now: profiles.update_profile(
                uow,
                uuid=uuid,
                changes=changes,
                now=now,
                hasher=self.rt.hasher,
            ),
        )
        return Response(status_code=204)

    async def update_user(self, request: Request, caller: Caller) -> Response:
        user = tr.parse_model(UserIn, await self._body(request))
        return await self._update(caller, request.path_params["identify_id"], user)

    async def update_user_by_body(self, request: Request, caller: Caller) -> Response:
        user = tr.parse_model(UserIn, await self._body(request))
        # A body without identifyId addresses the user whose id is literally "update".
        return await self._update(caller, user.identifyId or "update", user)

    async def get_user(self, request: Request, caller: Caller) -> Response:
        uuid = request.path_params["identify_id"]
        view = await self.rt.read(
            caller.tenant.tenant_id,
            lambda uow: profiles.get_profile(uow, uuid=uuid),
            point=True,
        )
        return json_response(tr.user_to_wire(view))

    async def list_users(self, request: Request, caller: Caller) -> Response:
        state = tr.list_state(request.query_params)
        flt = query.parse_filters(state["q"], USER_FIELDS)
        sort = query.parse_sort(state["o"], USER_FIELDS) or (SortKey("createDate", False),)
        limit = int(state["n"])
        by_index, rest = split_identify_id(flt)
        tenant = caller.tenant
        if not rest and len(sort) == 1 and sort[0].path == "createDate":
            # Creation order is id order: storage pages it by index.
            descending = sort[0].descending
            after = state["k"]
            if not (after is None or (isinstance(after, int) and not isinstance(after, bool))):
                raise ValidationError("scrollId", "is not a scroll id this server issued")
            page = await self.rt.read(
                tenant.tenant_id,
                lambda uow: profiles.list_profiles(
                    uow,
                    flt=by_index,
                    after=after,
                    limit=limit,
                    descending=descending,
                ),
            )
            found = [tr.user_to_wire(v) for v in page.profiles]
            total = page.total
            if page.profiles:
                state["k"] = page.profiles[-1].profile.profile_id
        else:
            # Attributes are sealed: the rest of the filter and the sort run here.
            place = tr.scroll_position(state["k"], sort, tie=int)

            def select(uow: Any) -> tuple[list[tuple[int, dict[str, Any]]], int]:
                views = profiles.scan_profiles(uow, flt=by_index)
                wires = ((v.profile.profile_id, tr.user_to_wire(v)) for v in views)
                return query.page_of(
                    (w for w in wires if query.matches(w[1], rest)),
                    place=lambda w: query.position(w[1], sort, w[0]),
                    sort=sort,
                    after=place,
                    limit=limit,
                )

            chosen, total = await self.rt.read(tenant.tenant_id, select)
            found = [wire for _, wire in chosen]
            if chosen:
                last_id, last = chosen[-1]
                state["k"] = tr.scroll_key(query.position(last, sort, last_id))
        return json_response(
            {"users": found, "totalHits": total, "scrollId": tr.encode_cursor(state)}
        )

    async def _delete(self, request: Request, caller: Caller, uuid: str) -> Response:
        hard_raw = tr.query_value(request.query_params, "hardDelete") or "false"
        if hard_raw.lower() not in ("true", "false"):
            raise ValidationError("hardDelete", "must be true or false")
        confirmed = mass_delete_confirmed(request)
        if hard_raw.lower() == "true":
            await self.rt.write(
                caller.tenant.tenant_id,
                lambda uow, now: deletions.hard_delete_profile(
                    uow,
                    caller=caller,
                    uuid=uuid,
                    now=now,
                    hasher=self.rt.hasher,
                    confirmed=confirmed,
                ),
            )
        else:
            await self.rt.write(
                caller.tenant.tenant_id,
                lambda uow, now: deletions.soft_delete_profile(
                    uow, caller=caller, uuid=uuid, now=now, confirmed=confirmed
                ),
            )
        return json_response(tr.DELETED)

    async def delete_user(self, request: Request, caller: Caller) -> Response:
        # The body is unused here, but the cap holds on every endpoint: an oversized request
        # is refused whole rather than half-honoured.
        await read_capped(request, self.rt.max_body_bytes)
        return await self._delete(request, caller, request.path_params["identify_id"])

    async def delete_user_by_body(self, request: Request, caller: Caller) -> Response:
        data = await self._body(request, allow_empty=True)
        body = tr.parse_model(IdentifyIdBody, {} if data is None else data)
        # No body (or no identifyId) addresses the user whose id is literally "delete".
        return await self._delete(request, caller, body.identifyId or "delete")

    # --- custom events -----------------------------------------------------------------

    async def create_event(self, request: Request, caller: Caller) -> Response:
        body = tr.parse_model(CustomEventIn, await self._body(request))
        now_ms = self.rt.clock.now_ms()
        new_event = tr.event_from_wire(body, now_ms)
        view = await self.rt.write(
            caller.tenant.tenant_id,
            lambda uow, now: events.record_event(
                uow, uuid=body.identifyId, event=new_event, now=now
            ),
        )
        return json_response(tr.event_to_wire(view), status=201)

    async def list_events(self, request: Request, caller: Caller) -> Response:
        params = request.query_params
        state = tr.list_state(params)
        if tr.query_value(params, "scrollId") is None:
            # The explicit range travels in the scroll id with the filter.
            state["s"] = _epoch_ms(params, "dateRangeStart")
            state["e"] = _epoch_ms(params, "dateRangeEnd")
        wanted = event_query(state["q"], start=state.get("s"), end=state.get("e"))
        descending = event_sort_descending(state["o"])
        after = state.get("a")
        if after is not None and not (
            isinstance(after, list) and len(after) == 2 and all(isinstance(x, int) for x in after)
        ):
            raise ValidationError("scrollId", "is not a scroll id this server issued")
        page = await self.rt.read(
            caller.tenant.tenant_id,
            lambda uow: events.list_events(
                uow,
                uuid=wanted.identify_id,
                name=wanted.event_name,
                start=wanted.start,
                end=wanted.end,
                after=None if after is None else (after[0], after[1]),
                limit=int(state["n"]),
                descending=descending,
            ),
        )
        if page.events:
            last = page.events[-1].event
            state["a"] = [last.occurred_at, last.event_id]
        return json_response(
            {
                "customEvents": [tr.event_to_wire(v) for v in page.events],
                "totalHits": page.total,
                "scrollId": tr.encode_cursor(state),
            }
        )


def _epoch_ms(params: Any, name: str) -> int | None:
    raw = tr.query_value(params, name)
    if raw is None:
        return None
    try:
        value = int(raw)
    except ValueError:
        raise ValidationError(name, "must be epoch milliseconds") from None
    if not INT64_MIN <= value <= INT64_MAX:
        raise ValidationError(name, "must be epoch milliseconds")
    return value


def routes(rt: Runtime) -> list[Route]:
    api = GainsightApi(rt)
    e = surface_endpoint(
        rt, surface=SURFACE, authenticate=api.authenticate, to_response=to_response
    )
    accounts = AccountsApi(rt)
    catalog = CatalogApi(rt)
    return [
        document_route(OPENAPI_PATH, openapi_document()),
        Route("/v1/accounts", e(accounts.create), methods=["POST"]),
        Route("/v1/accounts", e(accounts.list), methods=["GET"]),
        Route("/v1/accounts/update", e(accounts.update_by_body), methods=["PUT"]),
        Route("/v1/accounts/{account_id:path}", e(accounts.update), methods=["PUT"]),
        Route("/v1/accounts/{account_id:path}", e(accounts.get), methods=["GET"]),
        Route("/v1/accounts/{account_id:path}", e(accounts.delete), methods=["DELETE"]),
        Route("/v1/admin/model/{model}/attributes", e(catalog.attributes), methods=["GET"]),
        *(
            Route(spec.path, e(catalog.content_list(spec)), methods=["GET"])
            for spec in CONTENT_LISTS
        ),
        *(
            Route(spec.path, e(catalog.event_history(spec)), methods=["GET"])
            for spec in EVENT_HISTORIES
        ),
        Route("/v1/users", e(api.create_user), methods=["POST"]),
        Route("/v1/users", e(api.list_users), methods=["GET"]),
        Route("/v1/users/update", e(api.update_user_by_body), methods=["PUT"]),
        Route("/v1/users/delete", e(api.delete_user_by_body), methods=["DELETE"]),
        Route("/v1/users/{identify_id:path}", e(api.update_user), methods=["PUT"]),
        Route("/v1/users/{identify_id:path}", e(api.get_user), methods=["GET"]),
        Route("/v1/users/{identify_id:path}", e(api.delete_user), methods=["DELETE"]),
        Route("/v1/events/custom", e(api.create_event), methods=["POST"]),
        Route("/v1/events/custom", e(api.list_events), methods=["GET"]),
    ]
