"""Insider ``/api/user/v1``: identity resolution, identifier and user deletion."""

from __future__ import annotations

from functools import partial
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from obliviate.domain.errors import (
    AuthenticationError,
    IdentifierInUse,
    NotFoundError,
    Suppressed,
    ValidationError,
)
from obliviate.domain.identifiers import Identifier
from obliviate.domain.tenants import Caller
from obliviate.http.apidoc import document_route
from obliviate.http.body import read_json
from obliviate.http.insider import translate as tr
from obliviate.http.insider.errors import PartnerInvalid, to_response
from obliviate.http.insider.openapi import PATH as OPENAPI_PATH
from obliviate.http.insider.openapi import openapi_document
from obliviate.http.json import json_response
from obliviate.http.logging import log_subject
from obliviate.http.runtime import Runtime, mass_delete_confirmed, surface_endpoint
from obliviate.services import events, identity
from obliviate.services.identity import PersonInput
from obliviate.services.ports import UnitOfWork

SURFACE = "insider"
MAX_EVENTS_PER_NAME = 1000


def _person(raw: Any, at: str) -> PersonInput:
    if not isinstance(raw, dict):
        raise ValidationError(at, "must be an object")
    return PersonInput(
        identifiers=tr.identifiers(raw.get("identifiers"), f"{at}.identifiers"),
        attributes=tr.attributes(raw.get("attributes"), f"{at}.attributes"),
        events=tr.events(raw.get("events"), f"{at}.events"),
    )


class InsiderApi:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    async def authenticate(self, request: Request) -> Caller:
        partner = request.headers.get("x-partner-name")
        if not partner or partner != partner.lower():
            raise PartnerInvalid()
        token = request.headers.get("x-request-token")
        if not token:
            raise AuthenticationError("missing request token")
        return await self.rt.authenticated(
            request,
            f"insider:{partner}:{token}",
            partial(self.rt.authenticator.insider, partner, token),
        )

    async def _body(self, request: Request) -> Any:
        return await read_json(request, self.rt.max_body_bytes)

    def _log_subject(self, request: Request, ident: Identifier) -> None:
        # Logs name the subject only by its keyed hash.
        log_subject(request.scope, self.rt.hasher, ident.id_type, ident.value)

    async def upsert(self, request: Request, caller: Caller) -> Response:
        raw_users = tr.users(await self._body(request))
        people: list[tuple[int, PersonInput]] = []
        errors: dict[str, list[str]] = {}
        for i, raw in enumerate(raw_users):
            try:
                people.append((i, _person(raw, f"users.{i}")))
            except ValidationError as exc:
                errors[exc.field] = [exc.message]
        confirmed = mass_delete_confirmed(request)

        def work(uow: UnitOfWork, now: int) -> tuple[int, dict[str, list[str]]]:
            results = identity.upsert_people(
                uow,
                tenant=caller.tenant,
                people=[person for _, person in people],
                now=now,
                hasher=self.rt.hasher,
                confirmed=confirmed,
            )
            done, failures = 0, {}
            for (i, _), result in zip(people, results, strict=True):
                if isinstance(result, IdentifierInUse):
                    failures[f"users.{i}.identifiers.{result.id_type}"] = [
                        "identifier was given to another user at the same time"
                    ]
                elif isinstance(result, Suppressed):
                    failures[f"users.{i}.identifiers.{result.id_type}"] = [
                        "identifier is suppressed and cannot be re-created"
                    ]
                elif isinstance(result, ValidationError):
                    # Rules that need the stored profiles (the merge limit, a revived
                    # profile's email) fail this user only, like the checks made before.
                    failures[f"users.{i}.{result.field}"] = [result.message]
                else:
                    done += 1
            return done, failures

        done, failures = await self.rt.write(caller.tenant.tenant_id, work)
        errors.update(failures)
        failed = len(raw_users) - done
        return json_response(tr.outcome(done, failed, dict(sorted(errors.items()))))

    async def profile(self, request: Request, caller: Caller) -> Response:
        body = await self._body(request)
        if not isinstance(body, dict):
            raise ValidationError("body", "must be an object")
        idents = tr.identifiers(body.get("identifiers"))
        self._log_subject(request, idents[0])
        wanted_attributes = body.get("attributes")
        if wanted_attributes is not None and not (
            isinstance(wanted_attributes, list)
            and all(isinstance(a, str) for a in wanted_attributes)
        ):
            raise ValidationError("attributes", "must be an array of attribute names")
        wanted_events, start, end = _wanted_events(body.get("events"))

        def read(uow: UnitOfWork) -> dict[str, Any]:
            person = identity.find_person(uow, identifiers=idents)
            held = uow.profiles.identifiers_of(person.profile_id)
            found: dict[str, list[dict[str, Any]]] = {}
            for name, params in wanted_events:
                stored = events.events_of_profile(
                    uow,
                    profile_id=person.profile_id,
                    name=name,
                    start=start,
                    end=end,
                    limit=MAX_EVENTS_PER_NAME,
                )
                found[name] = [
                    {
                        "timestamp": tr.iso(e.occurred_at),
                        "event_params": {
                            k: v for k, v in e.properties.items() if params is None or k in params
                        },
                    }
                    for e in stored
                ]
            return {
                "attributes": tr.profile_attributes(person, held, wanted_attributes),
                "events": found,
            }

        return json_response(await self.rt.read(caller.tenant.tenant_id, read))

    async def delete_identity(self, request: Request, caller: Caller) -> Response:
        body = await self._body(request)
        ident = tr.one_identifier(body.get("identifiers") if isinstance(body, dict) else None)
        self._log_subject(request, ident)
        await self.rt.write(
            caller.tenant.tenant_id,
            lambda uow, now: identity.delete_identifier(uow, ident=ident, now=now),
        )
        return json_response({})

    async def change_identity(self, request: Request, caller: Caller) -> Response:
        body = await self._body(request)
        if not isinstance(body, dict):
            raise ValidationError("body", "must be an object")
        old = tr.one_identifier(body.get("old_identifier"), "old_identifier")
        self._log_subject(request, old)
        new = tr.one_identifier(body.get("new_identifier"), "new_identifier")
        await self.rt.write(
            caller.tenant.tenant_id,
            lambda uow, now: identity.change_identifier(
                uow, old=old, new=new, now=now, hasher=self.rt.hasher
            ),
        )
        return json_response({})

    async def delete_user(self, request: Request, caller: Caller) -> Response:
        body = await self._body(request)
        idents = tr.identifiers(body.get("identifiers") if isinstance(body, dict) else None)
        self._log_subject(request, idents[0])
        await self.rt.write(
            caller.tenant.tenant_id,
            lambda uow, now: identity.hard_delete_person(
                uow,
                caller=caller,
                identifiers=idents,
                now=now,
                hasher=self.rt.hasher,
                confirmed=mass_delete_confirmed(request),
            ),
        )
        return json_response({})

    async def delete_attributes(self, request: Request, caller: Caller) -> Response:
        raw_users = tr.users(await self._body(request))
        requests: list[tuple[int, Any, list[str], list[str]]] = []
        errors: dict[str, list[str]] = {}
        for i, raw in enumerate(raw_users):
            try:
                requests.append((i, *_attribute_deletion(raw, f"users.{i}")))
            except ValidationError as exc:
                errors[exc.field] = [exc.message]

        def work(uow: UnitOfWork, now: int) -> tuple[int, dict[str, list[str]]]:
            done, failures = 0, {}
            for i, idents, names, custom in requests:
                try:
                    with uow.savepoint():
                        identity.delete_attributes(
                            uow,
                            identifiers=idents,
                            names=names,
                            custom_names=custom,
                            now=now,
                        )
                    done += 1
                except NotFoundError:
                    failures[f"users.{i}.identifiers"] = ["no such user for these identifiers"]
            return done, failures

        done, failures = await self.rt.write(caller.tenant.tenant_id, work)
        errors.update(failures)
        return json_response(tr.outcome(done, len(raw_users) - done, dict(sorted(errors.items()))))


def _names(value: Any, field: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValidationError(field, "must be an array of attribute names")
    return list(value)


def _attribute_deletion(raw: Any, at: str) -> tuple[Any, list[str], list[str]]:
    if not isinstance(raw, dict):
        raise ValidationError(at, "must be an object")
    custom = raw.get("custom") or {}
    if not isinstance(custom, dict):
        raise ValidationError(f"{at}.custom", "must be an object")
    return (
        tr.identifiers(raw.get("identifiers"), f"{at}.identifiers"),
        _names(raw.get("whole"), f"{at}.whole"),
        _names(custom.get("whole"), f"{at}.custom.whole"),
    )


def _wanted_events(
    value: Any,
) -> tuple[list[tuple[str, list[str] | None]], int | None, int | None]:
    if value is None:
        return [], None, None
    if not isinstance(value, dict):
        raise ValidationError("events", "must be an object")
    start = tr.epoch_seconds(value.get("start_date"), "events.start_date")
    end = tr.epoch_seconds(value.get("end_date"), "events.end_date")
    wanted: list[tuple[str, list[str] | None]] = []
    for i, item in enumerate(value.get("wanted") or []):
        if not isinstance(item, dict) or not isinstance(item.get("event_name"), str):
            raise ValidationError(f"events.wanted.{i}.event_name", "must be a string")
        params = item.get("params")
        wanted.append((item["event_name"], None if params is None else _names(params, "params")))
    return wanted, start, end


def routes(rt: Runtime) -> list[Route]:
    api = InsiderApi(rt)
    e = surface_endpoint(
        rt, surface=SURFACE, authenticate=api.authenticate, to_response=to_response
    )
    base = "/api/user/v1"
    return [
        document_route(OPENAPI_PATH, openapi_document()),
        Route(f"{base}/upsert", e(api.upsert), methods=["POST"]),
        Route(f"{base}/profile", e(api.profile), methods=["POST"]),
        Route(f"{base}/identity", e(api.delete_identity), methods=["DELETE"]),
        Route(f"{base}/identity", e(api.change_identity), methods=["PATCH"]),
        Route(f"{base}/delete", e(api.delete_user), methods=["POST"]),
        Route(f"{base}/attribute/delete", e(api.delete_attributes), methods=["POST"]),
    ]
