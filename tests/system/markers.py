"""People planted through every surface with values no one else holds, deleted through each
surface's own call, and a scan for those values in the raw bytes of database files.

Every value a surface can hold for a person carries a marker, ``mk`` + 16 random hex digits
(phone numbers, which must be E.164, are random digits instead), so finding a marker in a file
can only mean that person's value is there. What is NOT a marker, and why:

- names of attributes, custom attributes, custom identifiers, event params and device info
  keys: schema, not a person's value (a client sends the same names for everyone);
- event names (``clicked``, ``purchase``, ``visited``): the Gainsight ``eventName==`` filter
  reads them across people, and it is event *properties* that hold a person's values;
- Gainsight ``propertyKeys`` / ``propertyKey`` and ``userType``, Insider's ``{"source"}``
  event context, a device's ``platform``: product constants, the same for every person;
- event timestamps and Gainsight ``date``: numbers that cannot be told apart from any other.

Device ``timezone`` IS a marker: the native API takes any 1-64 characters there today
(``DeviceIn.timezone``). Should it come to accept only IANA names, ``put_device`` answers 400 and
this module must switch that value to a real zone name and drop it from the markers.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from urllib.parse import quote

from tests.support.servers import Server

JSON = {"Content-Type": "application/json"}
EVENT_NAMES = ("clicked", "purchase", "visited")
GAINSIGHT_PROPERTY_KEY = "AP-SCAN-1"


class Surface(StrEnum):
    GAINSIGHT = "gainsight"
    ENGAGELAB = "engagelab"
    INSIDER = "insider"
    NATIVE = "native"


class Role(StrEnum):
    VICTIM = "victim"
    CONTROL = "control"


class Deletion(StrEnum):
    """Each surface's own way to remove a person for good."""

    GAINSIGHT_HARD = "DELETE /v1/users/{id}?hardDelete=true"
    ENGAGELAB_DEVICE = "DELETE /v4/devices/{rid}"
    INSIDER_DELETE = "POST /api/user/v1/delete"
    NATIVE_HARD = "DELETE /api/v1/profiles/{uuid}?mode=hard"
    # A batch resolves its subjects when it runs, so its job row holds their values until it
    # ends: one more place a deleted person's bytes could be left.
    NATIVE_BATCH = "POST /api/v1/deletions"


def marker() -> str:
    return "mk" + secrets.token_hex(8)


def phone_marker() -> str:
    # A UK mobile number (+44 7xxx xxxxxx) is a possible number to ``phonenumbers``.
    return "+447" + "".join(str(secrets.randbelow(10)) for _ in range(9))


@dataclass(frozen=True)
class Marker:
    kind: str  # what the value is, e.g. "attribute.firstName"
    value: str  # exactly as sent
    token: str  # the part no one else has (the whole value, or inside it)


@dataclass
class _Values:
    """Hands out marked values and remembers what each one is."""

    markers: list[Marker] = field(default_factory=list)

    def text(self, kind: str, template: str = "{}") -> str:
        token = marker()
        value = template.format(token)
        self.markers.append(Marker(kind, value, token))
        return value

    def phone(self, kind: str) -> str:
        value = phone_marker()
        self.markers.append(Marker(kind, value, value))
        return value


@dataclass(frozen=True)
class Person:
    surface: Surface
    role: Role
    deletion: Deletion
    uuid: str | None
    email: str | None
    registration_ids: tuple[str, ...]
    markers: tuple[Marker, ...]

    @property
    def label(self) -> str:
        how = " (batch)" if self.deletion is Deletion.NATIVE_BATCH else ""
        return f"{self.surface.value}{how} {self.role.value}"


@dataclass(frozen=True)
class Credentials:
    gainsight_key: str
    engagelab_app_key: str
    engagelab_secret: str
    insider_partner: str
    insider_token: str
    native_token: str

    @classmethod
    def from_cli(cls, answer: Mapping[str, Any]) -> Credentials:
        """From ``obliviate tenant create NAME --json``."""
        return cls(
            gainsight_key=answer["gainsight"]["api_key"],
            engagelab_app_key=answer["engagelab"]["app_key"],
            engagelab_secret=answer["engagelab"]["master_secret"],
            insider_partner=answer["insider"]["partner_name"],
            insider_token=answer["insider"]["request_token"],
            native_token=answer["native"]["token"],
        )


class Api:
    """One tenant's calls on each surface, with that surface's own authentication."""

    def __init__(self, server: Server, creds: Credentials) -> None:
        self.server = server
        basic = base64.b64encode(f"{creds.engagelab_app_key}:{creds.engagelab_secret}".encode())
        self._headers = {
            Surface.GAINSIGHT: {**JSON, "X-APTRINSIC-API-KEY": creds.gainsight_key},
            Surface.ENGAGELAB: {**JSON, "Authorization": f"Basic {basic.decode()}"},
            Surface.INSIDER: {
                **JSON,
                "X-PARTNER-NAME": creds.insider_partner,
                "X-REQUEST-TOKEN": creds.insider_token,
            },
            Surface.NATIVE: {**JSON, "Authorization": f"Bearer {creds.native_token}"},
        }

    def call(self, surface: Surface, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        try:
            return self.server.request(method, path, body, self._headers[surface])
        except json.JSONDecodeError:
            # Only an unhandled error answers in plain text; the server logs its traceback
            # (just after answering, so it may not be there yet as this is raised).
            raise AssertionError(
                f"{method} {path}: not a JSON answer (a 5xx?); see {self.server.log}"
            ) from None

    def ok(
        self, surface: Surface, method: str, path: str, body: Any = None, status: int = 200
    ) -> Any:
        got, answer = self.call(surface, method, path, body)
        assert got == status, f"{method} {path}: {got} {answer}"
        return answer


# --- planting -----------------------------------------------------------------------------


def _device(api: Api, v: _Values, rid: str) -> None:
    """Info and timezone (native: the vendor's SDK reports them), then tags and alias
    (EngageLab): every value a device holds."""
    api.ok(
        Surface.NATIVE,
        "PUT",
        f"/api/v1/devices/{quote(rid)}",
        {
            "platform": "android",
            "timezone": v.text("device.timezone"),
            "info": {
                "model": v.text("device.info.model"),
                "os": {"build": v.text("device.info.os.build")},
            },
        },
        status=201,
    )
    tags = [v.text("device.tag"), v.text("device.tag.cjk", "{}標籤")]
    body = {"tags": {"add": tags, "remove": []}, "alias": v.text("device.alias")}
    assert api.ok(Surface.ENGAGELAB, "POST", f"/v4/devices/{quote(rid)}", body) == {}


def plant_gainsight(api: Api, role: Role) -> Person:
    v = _Values()
    uuid = v.text("identifier.uuid (identifyId)")
    email = v.text("attribute.email", "{}@example.com")
    user = {
        "identifyId": uuid,
        "propertyKeys": [GAINSIGHT_PROPERTY_KEY],
        "email": email,
        "firstName": v.text("attribute.firstName"),
        "lastName": v.text("attribute.lastName (non-ASCII)", "Zoë-{}"),
        "phone": v.text("attribute.phone"),
        "title": v.text("attribute.title"),
        "role": v.text("attribute.role"),
        "gender": v.text("attribute.gender"),
        "subscriptionId": v.text("attribute.subscriptionId"),
        "sfdcContactId": v.text("attribute.sfdcContactId"),
        "location": {
            "city": v.text("attribute.location.city"),
            "street": v.text("attribute.location.street"),
            "postalCode": v.text("attribute.location.postalCode"),
            "timeZone": v.text("attribute.location.timeZone"),
        },
        "customAttributes": {
            "plan": v.text("attribute.custom"),
            "limits": {"seats": v.text("attribute.custom (nested)")},
        },
    }
    api.ok(Surface.GAINSIGHT, "POST", "/v1/users", user, status=201)
    event = {
        "eventName": EVENT_NAMES[0],
        "identifyId": uuid,
        "propertyKey": GAINSIGHT_PROPERTY_KEY,
        "userType": "USER",
        "date": 1_790_000_000_000,
        "attributes": {"button": v.text("event.attributes")},
        "globalContext": {"session": v.text("event.globalContext")},
    }
    api.ok(Surface.GAINSIGHT, "POST", "/v1/events/custom", event, status=201)
    return Person(Surface.GAINSIGHT, role, Deletion.GAINSIGHT_HARD, uuid, email, (), _m(v))


def plant_engagelab(api: Api, role: Role) -> Person:
    """A device of no profile: EngageLab's person is its registration id."""
    v = _Values()
    rid = v.text("device.registration_id")
    _device(api, v, rid)
    return Person(Surface.ENGAGELAB, role, Deletion.ENGAGELAB_DEVICE, None, None, (rid,), _m(v))


def plant_insider(api: Api, role: Role) -> Person:
    v = _Values()
    uuid = v.text("identifier.uuid")
    email = v.text("identifier.email", "{}@example.com")
    user = {
        "identifiers": {
            "uuid": uuid,
            "email": email,
            "phone_number": v.phone("identifier.phone_number"),
            "custom": {"loyalty_id": v.text("identifier.custom")},
        },
        "attributes": {
            "name": v.text("attribute.name"),
            "surname": v.text("attribute.surname (non-ASCII)", "Łukasz-{}"),
            "email_optin": True,
            "custom": {"favourite": v.text("attribute.custom")},
        },
        "events": [
            {
                "event_name": EVENT_NAMES[1],
                "timestamp": "2026-11-01T10:00:00Z",
                "event_params": {"sku": v.text("event.params"), "price": 12.5},
            }
        ],
    }
    answer = api.ok(Surface.INSIDER, "POST", "/api/user/v1/upsert", {"users": [user]})
    assert answer == {"data": {"successful": {"count": 1}, "fail": {}}}, answer
    return Person(Surface.INSIDER, role, Deletion.INSIDER_DELETE, uuid, email, (), _m(v))


def plant_native(api: Api, role: Role, deletion: Deletion = Deletion.NATIVE_HARD) -> Person:
    v = _Values()
    uuid = v.text("identifier.uuid")
    email = v.text("identifier.email", "{}@example.com")
    body = {
        "identifiers": {
            "email": email,
            "phone_number": v.phone("identifier.phone_number"),
            "custom": {"crm_id": v.text("identifier.custom")},
        },
        "attributes": {
            "name": v.text("attribute.name"),
            "nickname": v.text("attribute.nickname (non-ASCII)", "Ærøskøbing-{}"),
            "address": {
                "street": v.text("attribute.address.street"),
                "lines": [v.text("attribute.address.lines[0]")],
            },
        },
    }
    api.ok(Surface.NATIVE, "PUT", f"/api/v1/profiles/{uuid}", body, status=201)
    events = {
        "events": [
            {
                "name": EVENT_NAMES[2],
                "timestamp": 1_790_000_000_000,
                "properties": {
                    "page": v.text("event.properties"),
                    "search": {"q": v.text("event.properties (nested)")},
                },
            }
        ]
    }
    api.ok(Surface.NATIVE, "POST", f"/api/v1/profiles/{uuid}/events", events, status=201)
    rid = v.text("device.registration_id (owned)")
    _device(api, v, rid)
    api.ok(Surface.NATIVE, "PUT", f"/api/v1/profiles/{uuid}/devices/{quote(rid)}")
    return Person(Surface.NATIVE, role, deletion, uuid, email, (rid,), _m(v))


def _m(v: _Values) -> tuple[Marker, ...]:
    return tuple(v.markers)


PLANTERS: dict[Surface, Callable[[Api, Role], Person]] = {
    Surface.GAINSIGHT: plant_gainsight,
    Surface.ENGAGELAB: plant_engagelab,
    Surface.INSIDER: plant_insider,
    Surface.NATIVE: plant_native,
}


def plant_everyone(api: Api) -> list[Person]:
    """A victim and a control per surface, and a second native victim for a batch deletion."""
    people = [PLANTERS[s](api, role) for s in Surface for role in Role]
    people.append(plant_native(api, Role.VICTIM, Deletion.NATIVE_BATCH))
    return people


# --- deleting -----------------------------------------------------------------------------


def delete(api: Api, person: Person) -> str | None:
    """Delete ``person`` through its surface's own call; the native job id, if one is given."""
    match person.deletion:
        case Deletion.GAINSIGHT_HARD:
            path = f"/v1/users/{person.uuid}?hardDelete=true"
            expected = {"body": {}, "statusCode": "200", "statusCodeValue": 200}
            assert api.ok(Surface.GAINSIGHT, "DELETE", path) == expected
        case Deletion.ENGAGELAB_DEVICE:
            (rid,) = person.registration_ids
            answer = api.ok(Surface.ENGAGELAB, "DELETE", f"/v4/devices/{quote(rid)}")
            assert answer == {"success": True}, answer
        case Deletion.INSIDER_DELETE:
            found_by = {"identifiers": {"uuid": person.uuid}}
            assert api.ok(Surface.INSIDER, "POST", "/api/user/v1/delete", found_by) == {}
        case Deletion.NATIVE_HARD:
            path = f"/api/v1/profiles/{person.uuid}?mode=hard"
            return str(api.ok(Surface.NATIVE, "DELETE", path, status=202)["job_id"])
        case Deletion.NATIVE_BATCH:
            batch = {"subjects": [{"type": "email", "value": person.email}], "mode": "hard"}
            return str(api.ok(Surface.NATIVE, "POST", "/api/v1/deletions", batch, status=202)["id"])
    return None


# --- reading back -------------------------------------------------------------------------


@dataclass(frozen=True)
class Read:
    surface: Surface
    method: str
    path: str
    body: Any = None
    # A list answers 200 with nothing in it for a person who is gone; a point read answers 404.
    listed_under: str | None = None


def reads_of(person: Person) -> list[Read]:
    """Every read, on every surface, that can show something of ``person``."""
    reads: list[Read] = []
    if person.uuid is not None:
        uuid = quote(person.uuid)
        wanted = {"wanted": [{"event_name": name} for name in EVENT_NAMES]}
        events = f"/v1/events/custom?filter={quote(f'identifyId=={person.uuid}')}&pageSize=1000"
        reads += [
            Read(Surface.NATIVE, "GET", f"/api/v1/profiles/{uuid}"),
            Read(Surface.GAINSIGHT, "GET", f"/v1/users/{uuid}"),
            Read(Surface.GAINSIGHT, "GET", events, listed_under="customEvents"),
            Read(
                Surface.INSIDER,
                "POST",
                "/api/user/v1/profile",
                {"identifiers": {"uuid": person.uuid}, "events": wanted},
            ),
        ]
    for rid in person.registration_ids:
        reads += [
            Read(Surface.ENGAGELAB, "GET", f"/v4/devices/{quote(rid)}"),
            Read(Surface.NATIVE, "GET", f"/api/v1/devices/{quote(rid)}"),
        ]
    return reads


def strings_in(answer: object) -> set[str]:
    """Every string value (not key) anywhere in a parsed JSON answer."""
    if isinstance(answer, str):
        return {answer}
    if isinstance(answer, dict):
        return {s for value in answer.values() for s in strings_in(value)}
    if isinstance(answer, list):
        return {s for item in answer for s in strings_in(item)}
    return set()


def values_missing_from_reads(api: Api, person: Person) -> list[str]:
    """The markers of ``person`` that no read answers exactly, as sent (empty: all intact)."""
    seen: set[str] = set()
    for read in reads_of(person):
        answer = api.ok(read.surface, read.method, read.path, read.body)
        seen |= strings_in(answer)
    return [f"{person.label} {m.kind}" for m in person.markers if m.value not in seen]


def is_gone(api: Api, person: Person) -> bool:
    for read in reads_of(person):
        status, answer = api.call(read.surface, read.method, read.path, read.body)
        if read.listed_under is not None:
            assert status == 200, (read, status, answer)
            if answer[read.listed_under]:
                return False
        elif status != 404:
            assert status == 200, (read, status, answer)
            return False
    return True
