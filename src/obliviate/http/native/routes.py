"""Obliviate's own ``/api/v1``: profiles, events, devices, deletions, receipts, suppressions."""

from __future__ import annotations

from functools import partial
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from obliviate.domain.devices import Device
from obliviate.domain.errors import (
    AuthenticationError,
    BatchTooLarge,
    ProfileNotFound,
    ValidationError,
)
from obliviate.domain.events import INT64_MAX, NewEvent
from obliviate.domain.identifiers import Identifier, identifier, uuid_identifier
from obliviate.domain.tenants import Caller
from obliviate.http.body import read_capped, read_json
from obliviate.http.json import json_response
from obliviate.http.native import schemas as sc
from obliviate.http.native.errors import to_response
from obliviate.http.native.openapi import docs_html, openapi_document
from obliviate.http.native.operations import Operation, QueryParam
from obliviate.http.native.params import DEFAULT_PAGE, MAX_PAGE, int_param
from obliviate.http.native.records import RecordsApi
from obliviate.http.runtime import Runtime, mass_delete_confirmed, surface_endpoint
from obliviate.services import batches, deletions, devices, events, identity, profiles
from obliviate.services.batches import BatchRequest
from obliviate.services.identity import PersonInput
from obliviate.services.ports import ProfileFilter, UnitOfWork

SURFACE = "native"


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


def _profile_json(view: profiles.ProfileView, held: list[tuple[str, str]]) -> dict[str, Any]:
    return {
        "uuid": view.uuid,
        "identifiers": [{"type": t, "value": v} for t, v in held],
        "attributes": view.profile.attributes,
        "created_at": view.profile.created_at,
        "updated_at": view.profile.updated_at,
    }


def _flag(request: Request, name: str) -> bool:
    raw = (request.query_params.get(name) or "false").lower()
    if raw not in ("true", "false", "1", "0", "yes", "no"):
        raise ValidationError(name, "must be true or false")
    return raw in ("true", "1", "yes")


def _extra_identifiers(raw: dict[str, Any]) -> list[Identifier]:
    found: list[Identifier] = []
    for key, value in raw.items():
        if key == "custom" and isinstance(value, dict):
            found.extend(
                identifier(f"custom.{name}", v, field=f"identifiers.custom.{name}")
                for name, v in value.items()
            )
        else:
            found.append(identifier(key, value, field=f"identifiers.{key}"))
    return found


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

    async def _json(self, request: Request) -> Any:
        return await read_json(request, self.rt.max_body_bytes)

    # --- profiles and events -----------------------------------------------------------

    async def put_profile(self, request: Request, caller: Caller) -> Response:
        body = sc.parse_body(sc.ProfileIn, await self._json(request))
        uuid = request.path_params["uuid"]
        person = PersonInput(
            identifiers=[uuid_identifier(uuid), *_extra_identifiers(body.identifiers)],
            attributes=body.attributes,
        )

        confirmed = mass_delete_confirmed(request)

        def put(uow: UnitOfWork, now: int) -> tuple[bool, dict[str, Any]]:
            outcome = identity.upsert_person(
                uow,
                tenant=caller.tenant,
                person=person,
                now=now,
                hasher=self.rt.hasher,
                confirmed=confirmed,
            )
            view = profiles.get_profile(uow, tenant=caller.tenant, uuid=uuid)
            held = profiles.profile_identifiers(uow, profile_id=outcome.profile_id)
            return outcome.created, _profile_json(view, held)

        created, answer = await self.rt.write(caller.tenant.tenant_id, put)
        self.rt.job_enqueued()
        return json_response(answer, status=201 if created else 200)

    async def get_profile(self, request: Request, caller: Caller) -> Response:
        uuid = request.path_params["uuid"]

        def read(uow: UnitOfWork) -> dict[str, Any]:
            view = profiles.get_profile(uow, tenant=caller.tenant, uuid=uuid)
            return _profile_json(
                view, profiles.profile_identifiers(uow, profile_id=view.profile.profile_id)
            )

        return json_response(await self.rt.read(caller.tenant.tenant_id, read))

    async def list_profiles(self, request: Request, caller: Caller) -> Response:
        limit = int_param(request, "limit", DEFAULT_PAGE, MAX_PAGE) or DEFAULT_PAGE
        after = int_param(request, "cursor", None)

        def read(uow: UnitOfWork) -> dict[str, Any]:
            page = profiles.list_profiles(
                uow, tenant=caller.tenant, flt=ProfileFilter(), after=after, limit=limit
            )
            items = [
                _profile_json(v, profiles.profile_identifiers(uow, profile_id=v.profile.profile_id))
                for v in page.profiles
            ]
            more = len(page.profiles) == limit
            cursor = str(page.profiles[-1].profile.profile_id) if more else None
            return {"profiles": items, "next_cursor": cursor}

        return json_response(await self.rt.read(caller.tenant.tenant_id, read))

    async def add_events(self, request: Request, caller: Caller) -> Response:
        body = sc.parse_body(sc.EventsIn, await self._json(request))
        uuid = request.path_params["uuid"]
        now_ms = self.rt.clock.now_ms()
        batch = [
            NewEvent(e.name, e.timestamp if e.timestamp is not None else now_ms, e.properties)
            for e in body.events
        ]
        accepted = await self.rt.write(
            caller.tenant.tenant_id,
            lambda uow, now: events.record_events(
                uow, tenant=caller.tenant, uuid=uuid, batch=batch, now=now
            ),
        )
        return json_response({"accepted": accepted}, status=201)

    async def delete_profile(self, request: Request, caller: Caller) -> Response:
        await read_capped(request, self.rt.max_body_bytes)
        uuid = request.path_params["uuid"]
        mode = request.query_params.get("mode") or "soft"
        if mode not in ("soft", "hard"):
            raise ValidationError("mode", "must be soft or hard")
        suppress, dry = _flag(request, "suppress"), _flag(request, "dry_run")
        if suppress and mode != "hard":
            raise ValidationError("suppress", "needs mode=hard")
        confirmed = mass_delete_confirmed(request)

        def run(uow: UnitOfWork, now: int) -> tuple[int, dict[str, Any]]:
            if dry:
                preview = batches.dry_run(
                    uow,
                    caller=caller,
                    batch=BatchRequest([uuid_identifier(uuid)], mode, suppress, True),
                )
                if preview["subjects"][0]["outcome"] == "not_found":
                    raise ProfileNotFound("uuid", uuid)
                return 200, {"mode": mode, "dry_run": True, "counts": preview["counts"]}
            if mode == "soft":
                accepted = deletions.soft_delete_profile(
                    uow, caller=caller, uuid=uuid, now=now, confirmed=confirmed
                )
                return 200, {
                    "mode": mode,
                    "dry_run": False,
                    "counts": {"profiles": 1},
                    "revivable_until": accepted.revivable_until,
                }
            accepted = deletions.hard_delete_profile(
                uow,
                caller=caller,
                uuid=uuid,
                now=now,
                hasher=self.rt.hasher,
                confirmed=confirmed,
                suppress=suppress,
            )
            return 202, {
                "mode": mode,
                "dry_run": False,
                "counts": {},
                "job_id": str(accepted.job_id),
            }

        status, answer = await self.rt.write(caller.tenant.tenant_id, run)
        self.rt.job_enqueued()
        return json_response(answer, status=status)

    async def restore_profile(self, request: Request, caller: Caller) -> Response:
        await read_capped(request, self.rt.max_body_bytes)
        uuid = request.path_params["uuid"]

        def run(uow: UnitOfWork, now: int) -> dict[str, Any]:
            view = profiles.restore_profile(
                uow, tenant=caller.tenant, uuid=uuid, now=now, hasher=self.rt.hasher
            )
            return _profile_json(
                view, profiles.profile_identifiers(uow, profile_id=view.profile.profile_id)
            )

        return json_response(await self.rt.write(caller.tenant.tenant_id, run))

    # --- devices -----------------------------------------------------------------------

    async def put_device(self, request: Request, caller: Caller) -> Response:
        body = sc.parse_body(sc.DeviceIn, await self._json(request))
        rid = request.path_params["rid"]

        def put(uow: UnitOfWork, now: int) -> tuple[bool, devices.DeviceView]:
            _, created = devices.put_device(
                uow,
                tenant=caller.tenant,
                registration_id=rid,
                platform=body.platform,
                timezone=body.timezone,
                info=body.info,
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
        await read_capped(request, self.rt.max_body_bytes)
        uuid, rid = request.path_params["uuid"], request.path_params["rid"]
        await self.rt.write(
            caller.tenant.tenant_id,
            lambda uow, now: devices.set_owner(
                uow, tenant=caller.tenant, uuid=uuid, registration_id=rid, now=now
            ),
        )
        return json_response({"uuid": uuid, "registration_id": rid})

    # --- deletions ---------------------------------------------------------------------

    async def submit_deletions(self, request: Request, caller: Caller) -> Response:
        raw = await self._json(request)
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
        status, answer = await self.rt.write(
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
        self.rt.job_enqueued()
        return json_response(answer, status=status)

    def _job_id(self, request: Request) -> int:
        raw = request.path_params["job_id"]
        # str.isdigit() also holds for digits int() cannot read (e.g. "²"), and a job id is a
        # 64-bit row id: anything else names no job.
        if not (raw.isascii() and raw.isdigit()) or int(raw) > INT64_MAX:
            raise batches.JobNotFound()
        return int(raw)

    async def deletion_status(self, request: Request, caller: Caller) -> Response:
        job_id = self._job_id(request)
        answer = await self.rt.read(
            caller.tenant.tenant_id, lambda uow: batches.status(uow, job_id=job_id)
        )
        return json_response(answer)

    async def cancel_deletion(self, request: Request, caller: Caller) -> Response:
        await read_capped(request, self.rt.max_body_bytes)
        job_id = self._job_id(request)
        answer = await self.rt.write(
            caller.tenant.tenant_id, lambda uow, now: batches.cancel(uow, job_id=job_id, now=now)
        )
        return json_response(answer)


def operations(api: NativeApi, records: RecordsApi) -> list[Operation]:
    page = (
        QueryParam("cursor", "from the previous page's next_cursor"),
        QueryParam("limit", "1-1000, default 100", "integer"),
    )
    confirm = (QueryParam("X-Obliviate-Confirm-Mass-Delete", "yes: pass the mass-delete guard"),)
    p = "/api/v1"
    return [
        Operation(
            "PUT",
            f"{p}/profiles/{{uuid}}",
            api.put_profile,
            "write",
            "Create or update a profile (revives a soft-deleted one)",
            200,
            sc.ProfileIn,
            sc.ProfileOut,
            also=((201, sc.ProfileOut),),
        ),
        Operation(
            "GET",
            f"{p}/profiles/{{uuid}}",
            api.get_profile,
            "read",
            "Read a profile",
            response=sc.ProfileOut,
        ),
        Operation(
            "GET",
            f"{p}/profiles",
            api.list_profiles,
            "read",
            "List profiles",
            response=sc.ProfilePage,
            query=page,
        ),
        Operation(
            "POST",
            f"{p}/profiles/{{uuid}}/events",
            api.add_events,
            "write",
            "Record a batch of events",
            201,
            sc.EventsIn,
        ),
        Operation(
            "DELETE",
            f"{p}/profiles/{{uuid}}",
            api.delete_profile,
            "delete",
            "Delete a profile: soft (revivable) or hard, optionally suppressed, or a dry run",
            200,
            response=sc.DeletionOut,
            headers=confirm,
            also=((202, sc.DeletionOut),),
            query=(
                QueryParam("mode", "soft (default) or hard"),
                QueryParam("suppress", "true: block re-creation (hard only)", "boolean"),
                QueryParam("dry_run", "true: report counts, change nothing", "boolean"),
            ),
        ),
        Operation(
            "POST",
            f"{p}/profiles/{{uuid}}/restore",
            api.restore_profile,
            "write",
            "Undo a soft delete within the revival window",
            response=sc.ProfileOut,
        ),
        Operation(
            "PUT",
            f"{p}/profiles/{{uuid}}/devices/{{rid}}",
            api.own_device,
            "write",
            "Make a profile own a device",
        ),
        Operation(
            "PUT",
            f"{p}/devices/{{rid}}",
            api.put_device,
            "write",
            "Set a device's platform, timezone and info",
            200,
            sc.DeviceIn,
            also=((201, None),),
        ),
        Operation("GET", f"{p}/devices/{{rid}}", api.get_device, "read", "Read a device"),
        Operation(
            "POST",
            f"{p}/deletions",
            api.submit_deletions,
            "delete",
            "Delete up to 1,000 subjects in one job (Idempotency-Key honoured for 24 h)",
            202,
            sc.DeletionsIn,
            sc.JobOut,
            headers=(QueryParam("Idempotency-Key", "replays the first answer"), *confirm),
            also=((200, None),),
        ),
        Operation(
            "GET",
            f"{p}/deletions/{{job_id}}",
            api.deletion_status,
            "read",
            "A deletion job's state, per-subject outcome and counts",
            response=sc.JobOut,
        ),
        Operation(
            "POST",
            f"{p}/deletions/{{job_id}}/cancel",
            api.cancel_deletion,
            "delete",
            "Cancel a deletion job that is still queued",
            response=sc.JobOut,
        ),
        Operation(
            "GET",
            f"{p}/receipts/{{receipt_id}}",
            records.get_receipt,
            "read",
            "A deletion receipt",
            response=sc.ReceiptOut,
        ),
        Operation(
            "GET",
            f"{p}/receipts",
            records.list_receipts,
            "read",
            "Receipts completed since a time",
            query=(QueryParam("since", "epoch ms", "integer"), *page),
        ),
        Operation(
            "GET",
            f"{p}/suppressions",
            records.list_suppressions,
            "admin",
            "List suppressions (keyed hashes only)",
            query=page,
        ),
        Operation(
            "POST",
            f"{p}/suppressions",
            records.add_suppression,
            "admin",
            "Suppress an identifier",
            201,
            sc.SuppressionIn,
        ),
        Operation(
            "GET",
            f"{p}/suppressions/{{type}}/{{value}}",
            records.get_suppression,
            "admin",
            "Is this identifier suppressed?",
        ),
        Operation(
            "DELETE",
            f"{p}/suppressions/{{type}}/{{value}}",
            records.remove_suppression,
            "admin",
            "Lift a suppression",
            204,
        ),
    ]


def _scoped(op: Operation) -> Any:
    async def run(request: Request, caller: Caller) -> Response:
        caller.require(op.scope)
        return await op.handler(request, caller)

    return run


def routes(rt: Runtime) -> list[Route]:
    api = NativeApi(rt)
    wrap = surface_endpoint(
        rt, surface=SURFACE, authenticate=api.authenticate, to_response=to_response
    )
    ops = operations(api, RecordsApi(rt))
    document = openapi_document(ops)
    page = docs_html(document)

    async def spec(_: Request) -> Response:
        return json_response(document)

    async def docs(_: Request) -> Response:
        return HTMLResponse(page)

    return [
        Route("/api/v1/openapi.json", spec, methods=["GET"]),
        Route("/native/openapi.json", spec, methods=["GET"]),
        Route("/docs", docs, methods=["GET"]),
        *(Route(op.path, wrap(_scoped(op)), methods=[op.method]) for op in ops),
    ]
