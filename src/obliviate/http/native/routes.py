"""Obliviate's own ``/api/v1``: what the vendor surfaces cannot express.

So far: device platform, timezone and info (the vendors set these from their client SDKs) and
device ownership by a profile.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from obliviate.domain.devices import Device, validate_platform
from obliviate.domain.errors import AuthenticationError, ValidationError
from obliviate.domain.tenants import Caller
from obliviate.http.body import read_json
from obliviate.http.json import json_response
from obliviate.http.native.errors import to_response
from obliviate.http.runtime import Runtime, surface_endpoint
from obliviate.services import devices
from obliviate.services.ports import UnitOfWork

SURFACE = "native"
MAX_TIMEZONE_BYTES = 64


def _device_json(device: Device, tags: list[str] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "registration_id": device.registration_id,
        "platform": device.platform,
        "timezone": device.timezone,
        "info": device.info,
        "alias": device.alias,
    }
    if tags is not None:
        body["tags"] = tags
    return body


def _device_fields(body: Any) -> tuple[str | None, str | None, dict[str, Any] | None]:
    if not isinstance(body, dict):
        raise ValidationError("body", "must be a JSON object")
    platform = body.get("platform")
    timezone = body.get("timezone")
    info = body.get("info")
    if platform is not None:
        platform = validate_platform(platform)
    if timezone is not None and (
        not isinstance(timezone, str) or not 0 < len(timezone.encode()) <= MAX_TIMEZONE_BYTES
    ):
        raise ValidationError("timezone", "must be an IANA name such as Europe/Paris")
    if info is not None and not isinstance(info, dict):
        raise ValidationError("info", "must be a JSON object")
    return platform, timezone, info


class NativeApi:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    async def authenticate(self, request: Request) -> Caller:
        scheme, _, token = (request.headers.get("authorization") or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthenticationError("missing bearer token")
        token = token.strip()
        return await self.rt.authenticated(
            request, f"native:{token}", partial(self.rt.authenticator.native, token)
        )

    async def put_device(self, request: Request, caller: Caller) -> Response:
        platform, timezone, info = _device_fields(await read_json(request, self.rt.max_body_bytes))
        rid = request.path_params["rid"]

        def put(uow: UnitOfWork, now: int) -> tuple[bool, devices.DeviceView]:
            _, created = devices.put_device(
                uow,
                tenant=caller.tenant,
                registration_id=rid,
                platform=platform,
                timezone=timezone,
                info=info,
                now=now,
                hasher=self.rt.hasher,
            )
            return created, devices.get_device(uow, tenant=caller.tenant, registration_id=rid)

        created, view = await self.rt.write(caller.tenant.tenant_id, put)
        return json_response(_device_json(view.device, view.tags), status=201 if created else 200)

    async def get_device(self, request: Request, caller: Caller) -> Response:
        rid = request.path_params["rid"]
        view = await self.rt.read(
            caller.tenant.tenant_id,
            lambda uow: devices.get_device(uow, tenant=caller.tenant, registration_id=rid),
        )
        return json_response(_device_json(view.device, view.tags))

    async def own_device(self, request: Request, caller: Caller) -> Response:
        uuid, rid = request.path_params["uuid"], request.path_params["rid"]
        await self.rt.write(
            caller.tenant.tenant_id,
            lambda uow, now: devices.set_owner(
                uow, tenant=caller.tenant, uuid=uuid, registration_id=rid, now=now
            ),
        )
        return json_response({"uuid": uuid, "registration_id": rid})


def routes(rt: Runtime) -> list[Route]:
    api = NativeApi(rt)
    e = surface_endpoint(
        rt, surface=SURFACE, authenticate=api.authenticate, to_response=to_response
    )
    return [
        Route("/api/v1/devices/{rid}", e(api.put_device), methods=["PUT"]),
        Route("/api/v1/devices/{rid}", e(api.get_device), methods=["GET"]),
        Route("/api/v1/profiles/{uuid}/devices/{rid}", e(api.own_device), methods=["PUT"]),
    ]
