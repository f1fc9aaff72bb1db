"""Native devices: register one, read it, give it to a profile."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from obliviate.domain.devices import Device
from obliviate.domain.tenants import Caller
from obliviate.http.body import read_capped, read_json
from obliviate.http.json import json_response
from obliviate.http.native import schemas as sc
from obliviate.http.native.operations import PREFIX, Operation
from obliviate.http.runtime import Runtime
from obliviate.services import devices
from obliviate.services.ports import UnitOfWork


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


class DevicesApi:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    async def put_device(self, request: Request, caller: Caller) -> Response:
        body = sc.parse_body(sc.DeviceIn, await read_json(request, self.rt.max_body_bytes))
        rid = request.path_params["rid"]

        def put(uow: UnitOfWork, now: int) -> tuple[bool, devices.DeviceView]:
            _, created = devices.put_device(
                uow,
                registration_id=rid,
                platform=body.platform,
                timezone=body.timezone,
                info=body.info,
                now=now,
                hasher=self.rt.hasher,
            )
            return created, devices.get_device(uow, registration_id=rid)

        created, view = await self.rt.write(caller.tenant.tenant_id, put)
        return json_response(_device_json(view.device, view.tags), status=201 if created else 200)

    async def get_device(self, request: Request, caller: Caller) -> Response:
        rid = request.path_params["rid"]
        view = await self.rt.read(
            caller.tenant.tenant_id,
            lambda uow: devices.get_device(uow, registration_id=rid),
        )
        return json_response(_device_json(view.device, view.tags))

    async def own_device(self, request: Request, caller: Caller) -> Response:
        await read_capped(request, self.rt.max_body_bytes)
        uuid, rid = request.path_params["uuid"], request.path_params["rid"]
        await self.rt.write(
            caller.tenant.tenant_id,
            lambda uow, now: devices.set_owner(uow, uuid=uuid, registration_id=rid, now=now),
        )
        return json_response({"uuid": uuid, "registration_id": rid})


def operations(api: DevicesApi) -> list[Operation]:
    return [
        Operation(
            method="PUT",
            path=f"{PREFIX}/profiles/{{uuid}}/devices/{{rid}}",
            handler=api.own_device,
            scope="write",
            summary="Make a profile own a device",
        ),
        Operation(
            method="PUT",
            path=f"{PREFIX}/devices/{{rid}}",
            handler=api.put_device,
            scope="write",
            summary="Set a device's platform, timezone and info",
            status=200,
            body=sc.DeviceIn,
            also=((201, None),),
        ),
        Operation(
            method="GET",
            path=f"{PREFIX}/devices/{{rid}}",
            handler=api.get_device,
            scope="read",
            summary="Read a device",
        ),
    ]
