"""Native profiles and their events: upsert, read, list, delete (soft, hard, dry run), restore."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from obliviate.domain.deletion import SubjectOutcome
from obliviate.domain.errors import ProfileNotFound, ValidationError
from obliviate.domain.events import NewEvent
from obliviate.domain.identifiers import Identifier, identifier, uuid_identifier
from obliviate.domain.tenants import Caller
from obliviate.http.body import read_capped, read_json
from obliviate.http.json import json_response
from obliviate.http.native import schemas as sc
from obliviate.http.native.operations import CONFIRM, PAGE, PREFIX, Operation, QueryParam
from obliviate.http.native.params import DEFAULT_PAGE, MAX_PAGE, int_param
from obliviate.http.runtime import Runtime, mass_delete_confirmed
from obliviate.services import batches, deletions, events, identity, profiles
from obliviate.services.batches import BatchRequest
from obliviate.services.identity import PersonInput
from obliviate.services.ports import ProfileFilter, UnitOfWork


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


class ProfilesApi:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    async def put_profile(self, request: Request, caller: Caller) -> Response:
        body = sc.parse_body(sc.ProfileIn, await read_json(request, self.rt.max_body_bytes))
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
            view = profiles.get_profile(uow, uuid=uuid)
            held = profiles.profile_identifiers(uow, profile_id=outcome.profile_id)
            return outcome.created, _profile_json(view, held)

        created, answer = await self.rt.write(caller.tenant.tenant_id, put)
        return json_response(answer, status=201 if created else 200)

    async def get_profile(self, request: Request, caller: Caller) -> Response:
        uuid = request.path_params["uuid"]

        def read(uow: UnitOfWork) -> dict[str, Any]:
            view = profiles.get_profile(uow, uuid=uuid)
            return _profile_json(
                view, profiles.profile_identifiers(uow, profile_id=view.profile.profile_id)
            )

        return json_response(await self.rt.read(caller.tenant.tenant_id, read))

    async def list_profiles(self, request: Request, caller: Caller) -> Response:
        limit = int_param(request, "limit", DEFAULT_PAGE, MAX_PAGE) or DEFAULT_PAGE
        after = int_param(request, "cursor", None)

        def read(uow: UnitOfWork) -> dict[str, Any]:
            page = profiles.list_profiles(uow, flt=ProfileFilter(), after=after, limit=limit)
            items = [
                _profile_json(v, profiles.profile_identifiers(uow, profile_id=v.profile.profile_id))
                for v in page.profiles
            ]
            more = len(page.profiles) == limit
            cursor = str(page.profiles[-1].profile.profile_id) if more else None
            return {"profiles": items, "next_cursor": cursor}

        return json_response(await self.rt.read(caller.tenant.tenant_id, read))

    async def add_events(self, request: Request, caller: Caller) -> Response:
        body = sc.parse_body(sc.EventsIn, await read_json(request, self.rt.max_body_bytes))
        uuid = request.path_params["uuid"]
        now_ms = self.rt.clock.now_ms()
        batch = [
            NewEvent(e.name, e.timestamp if e.timestamp is not None else now_ms, e.properties)
            for e in body.events
        ]
        accepted = await self.rt.write(
            caller.tenant.tenant_id,
            lambda uow, now: events.record_events(uow, uuid=uuid, batch=batch, now=now),
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
                    batch=BatchRequest([uuid_identifier(uuid)], mode, suppress, True),
                )
                if preview.subjects[0].outcome.outcome is SubjectOutcome.NOT_FOUND:
                    raise ProfileNotFound("uuid", uuid)
                counts = dict(sorted(preview.counts.items()))
                return 200, {"mode": mode, "dry_run": True, "counts": counts}
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
        return json_response(answer, status=status)

    async def restore_profile(self, request: Request, caller: Caller) -> Response:
        await read_capped(request, self.rt.max_body_bytes)
        uuid = request.path_params["uuid"]

        def run(uow: UnitOfWork, now: int) -> dict[str, Any]:
            view = profiles.restore_profile(uow, uuid=uuid, now=now, hasher=self.rt.hasher)
            return _profile_json(
                view, profiles.profile_identifiers(uow, profile_id=view.profile.profile_id)
            )

        return json_response(await self.rt.write(caller.tenant.tenant_id, run))


def operations(api: ProfilesApi) -> list[Operation]:
    return [
        Operation(
            method="PUT",
            path=f"{PREFIX}/profiles/{{uuid}}",
            handler=api.put_profile,
            scope="write",
            summary="Create or update a profile (revives a soft-deleted one)",
            status=200,
            body=sc.ProfileIn,
            response=sc.ProfileOut,
            also=((201, sc.ProfileOut),),
        ),
        Operation(
            method="GET",
            path=f"{PREFIX}/profiles/{{uuid}}",
            handler=api.get_profile,
            scope="read",
            summary="Read a profile",
            response=sc.ProfileOut,
        ),
        Operation(
            method="GET",
            path=f"{PREFIX}/profiles",
            handler=api.list_profiles,
            scope="read",
            summary="List profiles",
            response=sc.ProfilePage,
            query=PAGE,
        ),
        Operation(
            method="POST",
            path=f"{PREFIX}/profiles/{{uuid}}/events",
            handler=api.add_events,
            scope="write",
            summary="Record a batch of events",
            status=201,
            body=sc.EventsIn,
        ),
        Operation(
            method="DELETE",
            path=f"{PREFIX}/profiles/{{uuid}}",
            handler=api.delete_profile,
            scope="delete",
            summary=(
                "Delete a profile: soft (revivable) or hard, optionally suppressed, or a dry run"
            ),
            status=200,
            response=sc.DeletionOut,
            headers=CONFIRM,
            also=((202, sc.DeletionOut),),
            query=(
                QueryParam("mode", "soft (default) or hard"),
                QueryParam("suppress", "true: block re-creation (hard only)", "boolean"),
                QueryParam("dry_run", "true: report counts, change nothing", "boolean"),
            ),
        ),
        Operation(
            method="POST",
            path=f"{PREFIX}/profiles/{{uuid}}/restore",
            handler=api.restore_profile,
            scope="write",
            summary="Undo a soft delete within the revival window",
            response=sc.ProfileOut,
        ),
    ]
