"""EngageLab AppPush ``/v4`` devices, tags and aliases, over the shared services."""

from __future__ import annotations

from functools import partial
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from obliviate.domain.devices import MAX_IDS_PER_REQUEST, REGISTRATION_ID
from obliviate.domain.errors import ValidationError
from obliviate.domain.tenants import Caller
from obliviate.http.apidoc import document_route
from obliviate.http.body import read_capped, read_json
from obliviate.http.engagelab import translate as tr
from obliviate.http.engagelab.errors import json_response, to_response
from obliviate.http.engagelab.openapi import PATH as OPENAPI_PATH
from obliviate.http.engagelab.openapi import openapi_document
from obliviate.http.logging import log_subject
from obliviate.http.runtime import Runtime, mass_delete_confirmed, surface_endpoint
from obliviate.services import devices

SURFACE = "engagelab"


class EngageLabApi:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    async def authenticate(self, request: Request) -> Caller:
        rid = request.path_params.get("rid")
        if rid is not None:
            log_subject(request.scope, self.rt.hasher, REGISTRATION_ID, rid)
        app_key, secret = tr.basic_credentials(request.headers.get("authorization"))
        return await self.rt.authenticated(
            request,
            f"engagelab:{app_key}:{secret}",
            partial(self.rt.authenticator.engagelab, app_key, secret),
        )

    async def _body(self, request: Request) -> Any:
        return await read_json(request, self.rt.max_body_bytes, allow_empty=True)

    async def _no_body(self, request: Request) -> None:
        # Unused bodies still count against the cap: an oversized request is refused whole.
        await read_capped(request, self.rt.max_body_bytes)

    # --- devices -----------------------------------------------------------------------

    async def get_device(self, request: Request, caller: Caller) -> Response:
        await self._no_body(request)
        rid = request.path_params["rid"]
        view = await self.rt.read(
            caller.tenant.tenant_id,
            lambda uow: devices.get_device(uow, registration_id=rid),
            point=True,
        )
        return json_response({"tags": view.tags, "alias": view.device.alias or ""})

    async def set_device(self, request: Request, caller: Caller) -> Response:
        change = tr.device_change(await self._body(request))
        rid = request.path_params["rid"]
        await self.rt.write(
            caller.tenant.tenant_id,
            lambda uow, now: devices.set_device(
                uow,
                registration_id=rid,
                change=change,
                now=now,
                hasher=self.rt.hasher,
            ),
        )
        return json_response({})

    async def delete_device(self, request: Request, caller: Caller) -> Response:
        await self._no_body(request)
        rid = request.path_params["rid"]
        confirmed = mass_delete_confirmed(request)
        await self.rt.write(
            caller.tenant.tenant_id,
            lambda uow, now: devices.delete_device(
                uow,
                caller=caller,
                registration_id=rid,
                now=now,
                hasher=self.rt.hasher,
                confirmed=confirmed,
            ),
        )
        return json_response({"success": True})

    async def devices_status(self, request: Request, caller: Caller) -> Response:
        ids = tr.registration_ids(await self._body(request))
        found = await self.rt.read(
            caller.tenant.tenant_id,
            lambda uow: devices.devices_status(uow, registration_ids=ids),
        )
        return json_response([tr.status_entry(d) for d in found])

    # --- tags --------------------------------------------------------------------------

    async def list_tags(self, request: Request, caller: Caller) -> Response:
        await self._no_body(request)
        tags = await self.rt.read(caller.tenant.tenant_id, devices.list_tags)
        return json_response({"tags": tags})

    async def set_tag(self, request: Request, caller: Caller) -> Response:
        add, remove = tr.tag_membership(await self._body(request))
        tag = request.path_params["tag"]
        await self.rt.write(
            caller.tenant.tenant_id,
            lambda uow, _now: devices.set_tag_devices(uow, tag=tag, add=add, remove=remove),
        )
        return json_response({})

    async def delete_tag(self, request: Request, caller: Caller) -> Response:
        await self._no_body(request)
        tag, platforms = request.path_params["tag"], tr.platforms(request.query_params)
        await self.rt.write(
            caller.tenant.tenant_id,
            lambda uow, _now: devices.delete_tag(uow, tag=tag, platforms=platforms),
        )
        return json_response({})

    async def tags_count(self, request: Request, caller: Caller) -> Response:
        await self._no_body(request)
        tags = tr.multi_value(request.query_params, "tags")
        if not tags:
            raise ValidationError("tags", "name at least one tag")
        if len(tags) > MAX_IDS_PER_REQUEST:
            raise ValidationError("tags", f"at most {MAX_IDS_PER_REQUEST} tags")
        platforms = tr.platforms(request.query_params)
        counts = await self.rt.read(
            caller.tenant.tenant_id,
            lambda uow: devices.count_tags(uow, tags=tags, platforms=platforms),
        )
        return json_response({"tagsCount": counts})

    async def tag_has_device(self, request: Request, caller: Caller) -> Response:
        await self._no_body(request)
        tag, rid = request.path_params["tag"], request.path_params["rid"]
        result = await self.rt.read(
            caller.tenant.tenant_id,
            lambda uow: devices.device_has_tag(uow, tag=tag, registration_id=rid),
        )
        return json_response({"result": result})

    # --- aliases -----------------------------------------------------------------------

    async def get_alias(self, request: Request, caller: Caller) -> Response:
        await self._no_body(request)
        alias, platforms = request.path_params["alias"], tr.platforms(request.query_params)
        ids = await self.rt.read(
            caller.tenant.tenant_id,
            lambda uow: devices.alias_devices(uow, alias=alias, platforms=platforms),
        )
        return json_response({"registration_ids": ids})

    async def delete_alias(self, request: Request, caller: Caller) -> Response:
        await self._no_body(request)
        alias, platforms = request.path_params["alias"], tr.platforms(request.query_params)
        await self.rt.write(
            caller.tenant.tenant_id,
            lambda uow, now: devices.unbind_alias(uow, alias=alias, platforms=platforms, now=now),
        )
        return json_response({})


def routes(rt: Runtime) -> list[Route]:
    api = EngageLabApi(rt)
    e = surface_endpoint(
        rt, surface=SURFACE, authenticate=api.authenticate, to_response=to_response
    )
    return [
        document_route(OPENAPI_PATH, openapi_document()),
        Route("/v4/devices/status", e(api.devices_status), methods=["POST"]),
        Route("/v4/devices/{rid}", e(api.get_device), methods=["GET"]),
        Route("/v4/devices/{rid}", e(api.set_device), methods=["POST"]),
        Route("/v4/devices/{rid}", e(api.delete_device), methods=["DELETE"]),
        Route("/v4/tags", e(api.list_tags), methods=["GET"]),
        Route("/v4/tags_count", e(api.tags_count), methods=["GET"]),
        Route("/v4/tags/{tag}/registration_ids/{rid}", e(api.tag_has_device), methods=["GET"]),
        Route("/v4/tags/{tag}", e(api.set_tag), methods=["POST"]),
        Route("/v4/tags/{tag}", e(api.delete_tag), methods=["DELETE"]),
        Route("/v4/aliases/{alias}", e(api.get_alias), methods=["GET"]),
        Route("/v4/aliases/{alias}", e(api.delete_alias), methods=["DELETE"]),
    ]
