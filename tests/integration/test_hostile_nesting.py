"""Free-form JSON nested too deep is refused on every write path, and nothing breaks a list.

Depth counts the objects and arrays of a record's free-form map (a profile's attributes, an
event's properties or context, a device's info) from the map itself: ``{}`` is one level. A
Gainsight user's ``customAttributes`` is the ``custom`` member of its attributes and an event's
``globalContext`` a member of its context, so there the value sent is one level shallower than
the map it lands in.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx2
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import text
from starlette.testclient import TestClient

from obliviate.bootstrap import Container
from obliviate.domain.errors import ValidationError
from obliviate.domain.free_form import MAX_DEPTH, check_free_form
from obliviate.storage.sealing import Keyring
from tests.factories import gainsight_event, gainsight_user, uid
from tests.support.headers import gs_headers, insider_headers, native_headers
from tests.support.rows import snapshot, tenant_id_of
from tests.support.tenants import Tenant
from tests.surfaces.gainsight import support as gs
from tests.surfaces.insider import support as ins
from tests.surfaces.native import support as nat

PLACEHOLDER = "@@deep@@"
# orjson, the body decoder, refuses JSON nested deeper than this as malformed.
DECODER_LIMIT = 1024
TOO_DEEP = f"must not nest more than {MAX_DEPTH} levels deep"


def nested(depth: int) -> Any:
    """Objects and arrays in turn, ``depth`` of them, around one string."""
    value: Any = "x"
    for level in range(depth, 0, -1):
        value = {"k": value} if level % 2 else [value]
    return value


def nested_json(depth: int) -> str:
    """``nested(depth)`` as JSON text, built without recursion: no encoder nests 2,000 deep."""
    opens = ['{"k":' if level % 2 else "[" for level in range(1, depth + 1)]
    closes = ["}" if level % 2 else "]" for level in range(depth, 0, -1)]
    return "".join(opens) + '"x"' + "".join(closes)


def with_deep(body: Any, depth: int) -> bytes:
    """``body`` as JSON with its PLACEHOLDER string replaced by ``nested(depth)``."""
    raw = orjson.dumps(body)
    assert raw.count(f'"{PLACEHOLDER}"'.encode()) == 1, raw
    return raw.replace(f'"{PLACEHOLDER}"'.encode(), nested_json(depth).encode())


@dataclass(frozen=True)
class WritePath:
    """One way free-form JSON gets in: a request carrying it, and where it reads back."""

    surface: str
    method: str
    path: Callable[[str], str]
    # The body, with PLACEHOLDER where the deep value goes.
    body: Callable[[str], Any]
    # Levels of the free-form map above the value sent (see the module docstring).
    wrapping: int
    # The field a refusal names.
    field: str
    accepted: tuple[int, ...]
    read_back: Callable[[TestClient, Tenant, str], Any]
    # Makes the subject the request addresses (a user to update, a profile to add events to).
    setup: Callable[[TestClient, Tenant, str], None] | None = None


def _gs_user(client: TestClient, tenant: Tenant, subject: str) -> Any:
    response = client.get(f"/v1/users/{subject}", headers=gs_headers(tenant))
    assert response.status_code == 200, response.text
    return response.json()["customAttributes"]


def _gs_event(member: str) -> Callable[[TestClient, Tenant, str], Any]:
    def read(client: TestClient, tenant: Tenant, subject: str) -> Any:
        (event,) = gs.events_of(client, tenant, subject)["customEvents"]
        return event[member]

    return read


def _ins_attributes(member: str | None) -> Callable[[TestClient, Tenant, str], Any]:
    def read(client: TestClient, tenant: Tenant, subject: str) -> Any:
        attributes = ins.attributes_of(client, tenant, {"uuid": subject})
        return attributes[member] if member else {"k": attributes["k"]}

    return read


def _ins_event(client: TestClient, tenant: Tenant, subject: str) -> Any:
    (event,) = ins.events_of(client, tenant, {"uuid": subject}, "viewed")["viewed"]
    return event["event_params"]


def _nat_profile(client: TestClient, tenant: Tenant, subject: str) -> Any:
    response = nat.get_profile(client, tenant, subject)
    assert response.status_code == 200, response.text
    return response.json()["attributes"]


def _nat_device(client: TestClient, tenant: Tenant, subject: str) -> Any:
    response = client.get(f"/api/v1/devices/{subject}", headers=native_headers(tenant))
    assert response.status_code == 200, response.text
    return response.json()["info"]


def _gs_setup(client: TestClient, tenant: Tenant, subject: str) -> None:
    gs.create_user(client, tenant, subject)


def _nat_setup(client: TestClient, tenant: Tenant, subject: str) -> None:
    nat.create_profile(client, tenant, subject)


GS, INS, NAT = "gainsight", "insider", "native"
P = PLACEHOLDER

WRITE_PATHS: dict[str, WritePath] = {
    "gainsight create user customAttributes": WritePath(
        GS,
        "POST",
        lambda _s: "/v1/users",
        lambda s: gainsight_user(s, customAttributes=P),
        1,
        "attributes",
        (201,),
        _gs_user,
    ),
    "gainsight update user customAttributes": WritePath(
        GS,
        "PUT",
        lambda s: f"/v1/users/{s}",
        lambda _s: {"customAttributes": P},
        1,
        "attributes",
        (204,),
        _gs_user,
        _gs_setup,
    ),
    "gainsight update-by-body customAttributes": WritePath(
        GS,
        "PUT",
        lambda _s: "/v1/users/update",
        lambda s: {"identifyId": s, "customAttributes": P},
        1,
        "attributes",
        (204,),
        _gs_user,
        _gs_setup,
    ),
    "gainsight custom event attributes": WritePath(
        GS,
        "POST",
        lambda _s: "/v1/events/custom",
        lambda s: gainsight_event(s, attributes=P),
        0,
        "properties",
        (201,),
        _gs_event("attributes"),
        _gs_setup,
    ),
    "gainsight custom event globalContext": WritePath(
        GS,
        "POST",
        lambda _s: "/v1/events/custom",
        lambda s: gainsight_event(s, globalContext=P),
        1,
        "context",
        (201,),
        _gs_event("globalContext"),
        _gs_setup,
    ),
    "insider upsert attributes": WritePath(
        INS,
        "POST",
        lambda _s: f"{ins.BASE}/upsert",
        lambda s: {"users": [ins.user({"uuid": s}, attributes=P)]},  # type: ignore[arg-type]
        0,
        "users.0.attributes",
        (200,),
        _ins_attributes(None),
    ),
    "insider upsert attributes.custom": WritePath(
        INS,
        "POST",
        lambda _s: f"{ins.BASE}/upsert",
        lambda s: {"users": [ins.user({"uuid": s}, attributes={"custom": P})]},
        1,
        "users.0.attributes",
        (200,),
        _ins_attributes("custom"),
    ),
    "insider upsert event_params": WritePath(
        INS,
        "POST",
        lambda _s: f"{ins.BASE}/upsert",
        lambda s: {
            "users": [
                ins.user(
                    {"uuid": s},
                    events=[
                        {
                            "event_name": "viewed",
                            "timestamp": "2024-01-01T00:00:00Z",
                            "event_params": P,
                        }
                    ],
                )
            ]
        },
        0,
        "users.0.events.0.event_params",
        (200,),
        _ins_event,
    ),
    "native put profile attributes": WritePath(
        NAT,
        "PUT",
        lambda s: f"{nat.API}/profiles/{s}",
        lambda _s: {"attributes": P},
        0,
        "attributes",
        (201,),
        _nat_profile,
    ),
    "native add events properties": WritePath(
        NAT,
        "POST",
        lambda s: f"{nat.API}/profiles/{s}/events",
        lambda _s: {"events": [{"name": "viewed", "timestamp": 1_000, "properties": P}]},
        0,
        "properties",
        (201,),
        _gs_event("attributes"),
        _nat_setup,
    ),
    "native put device info": WritePath(
        NAT,
        "PUT",
        lambda s: f"{nat.API}/devices/{s}",
        lambda _s: {"platform": "android", "info": P},
        0,
        "info",
        (201,),
        _nat_device,
    ),
}


def _headers(surface: str, tenant: Tenant) -> dict[str, str]:
    by_surface = {GS: gs_headers, INS: insider_headers, NAT: native_headers}
    return {**by_surface[surface](tenant), "Content-Type": "application/json"}


def send(client: TestClient, tenant: Tenant, route: WritePath, subject: str, depth: int) -> Any:
    """The request with its free-form map nested ``depth`` levels."""
    body = with_deep(route.body(subject), depth - route.wrapping)
    return client.request(
        route.method,
        route.path(subject),
        content=body,
        headers=_headers(route.surface, tenant),
    )


def assert_refused(response: httpx2.Response, route: WritePath, depth: int) -> None:
    """The surface's own invalid-input answer, naming the field and the limit. Past the body
    decoder's own limit the body is refused whole as malformed JSON, before any field is read."""
    malformed = depth > DECODER_LIMIT - 5
    if route.surface == GS:
        gs.assert_error(response, 400, "BAD_REQUEST")
        message = response.json()["externalapierror"]["message"]
        if malformed:
            assert message.startswith("Malformed JSON request:"), message
            assert "depth limit exceeded" in message, message
        else:
            assert message == f"Invalid value for '{route.field}': {TOO_DEEP}", message
    elif route.surface == INS:
        expected = "request body is not valid JSON" if malformed else f"{route.field} {TOO_DEEP}"
        ins.assert_json(response, 400, {"error": f"{expected}: bad request"})
    else:
        if malformed:
            problem = nat.assert_problem(response, 400, "malformed-json")
            assert "depth limit exceeded" in problem["detail"], problem
        else:
            problem = nat.assert_problem(response, 422, "invalid-field")
            assert problem["field"] == route.field, problem
            assert problem["detail"] == TOO_DEEP, problem


def assert_lists_answer(client: TestClient, tenant: Tenant) -> None:
    """The three list endpoints that one stored record used to break."""
    for path, headers in (
        ("/v1/users?pageSize=1000", gs_headers(tenant)),
        ("/v1/events/custom?pageSize=1000", gs_headers(tenant)),
        (f"{nat.API}/profiles?limit=1000", native_headers(tenant)),
    ):
        response = client.get(path, headers=headers)
        assert response.status_code == 200, f"{path}: {response.status_code} {response.text}"
        assert isinstance(response.json(), dict), response.text


def use_every_credential(client: TestClient, tenant: Tenant) -> None:
    """One request per surface first: a credential's first use records when it was used (at
    most every few seconds), which is bookkeeping, not a change the refused request made."""
    assert_lists_answer(client, tenant)
    ins.assert_json(
        ins.profile(client, tenant, {"uuid": "nobody"}),
        404,
        {"error": "no such user for these identifiers: no data"},
    )


@pytest.mark.parametrize("route_name", sorted(WRITE_PATHS))
@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 300, 1000, 2000])
def test_free_form_json_nested_too_deep_is_refused_and_changes_nothing(
    client: TestClient, container: Container, tenant: Tenant, route_name: str, depth: int
) -> None:
    route = WRITE_PATHS[route_name]
    subject = uid("deep")
    if route.setup is not None:
        route.setup(client, tenant, subject)
    use_every_credential(client, tenant)
    before = snapshot(container)
    response = send(client, tenant, route, subject, depth)
    assert_refused(response, route, depth)
    assert snapshot(container) == before
    assert_lists_answer(client, tenant)


@pytest.mark.parametrize("route_name", sorted(WRITE_PATHS))
def test_free_form_json_at_the_limit_is_stored_and_reads_back_equal(
    client: TestClient, tenant: Tenant, route_name: str
) -> None:
    route = WRITE_PATHS[route_name]
    subject = uid("deep")
    if route.setup is not None:
        route.setup(client, tenant, subject)
    response = send(client, tenant, route, subject, MAX_DEPTH)
    assert response.status_code in route.accepted, f"{response.status_code} {response.text}"
    if route.surface == INS:
        ins.assert_json(response, 200, ins.counts(1))
    sent = nested(MAX_DEPTH - route.wrapping)
    assert route.read_back(client, tenant, subject) == sent
    assert_lists_answer(client, tenant)


# --- records stored before the limit ------------------------------------------------------

LEGACY_DEPTH = 300


def _plant_json(
    container: Container, tenant_id: str, table: str, key: int, owner: int, value: str
) -> None:
    """Overwrite one sealed JSON column with raw text sealed under its owner's key, as a row
    written before this change holds it (no encoder of ours writes 300 levels any more)."""
    column, key_column = {
        "profiles": ("attributes", "profile_id"),
        "events": ("sealed_body", "event_id"),
        "devices": ("sealed_details", "device_id"),
    }[table]
    with container.engine.begin() as conn:
        sealed = Keyring(conn, tenant_id, container.vault).seal(owner, value.encode())
        updated = conn.execute(
            text(f"UPDATE {table} SET {column} = :v WHERE {key_column} = :k"),
            {"v": sealed, "k": key},
        )
        assert updated.rowcount == 1


def test_a_record_stored_deeper_than_any_encoder_allows_breaks_no_list(
    client: TestClient, container: Container, tenant: Tenant
) -> None:
    subject = uid("legacy")
    user = gs.create_user(client, tenant, subject)
    gs.add_event(client, tenant, subject)
    put = client.put(
        f"{nat.API}/devices/{subject}", json={"platform": "ios"}, headers=native_headers(tenant)
    )
    assert put.status_code == 201, put.text
    deep = nested_json(LEGACY_DEPTH)
    profile_id = gs.profile_id_of(user)
    tid = tenant_id_of(container, tenant)
    _plant_json(container, tid, "profiles", profile_id, profile_id, f'{{"custom":{deep}}}')
    (event_id,) = [
        int(e["eventId"], 16) for e in gs.events_of(client, tenant, subject)["customEvents"]
    ]
    _plant_json(container, tid, "events", event_id, profile_id, f"[{deep},{{}}]")
    with container.uow_factory(tid, write=False) as uow:
        device = uow.devices.find_live(subject)
        assert device is not None
    details = f'{{"registration_id":"{subject}","timezone":null,"info":{deep}}}'
    _plant_json(container, tid, "devices", device.device_id, device.device_id, details)

    assert_lists_answer(client, tenant)
    expected = nested(LEGACY_DEPTH)
    (listed,) = gs.list_users(client, tenant, "?pageSize=1000")["users"]
    assert listed["customAttributes"] == expected
    assert _gs_event("attributes")(client, tenant, subject) == expected
    page = client.get(f"{nat.API}/profiles", headers=native_headers(tenant)).json()
    (profile,) = page["profiles"]
    assert profile["attributes"]["custom"] == expected
    assert _gs_user(client, tenant, subject) == expected
    assert _nat_device(client, tenant, subject) == expected


# --- the rule itself ----------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=3),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=2), inner),
    max_leaves=60,
)


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


@given(json_values, st.integers(min_value=0, max_value=8))
def test_check_free_form_refuses_exactly_the_values_deeper_than_the_limit(
    value: Any, limit: int
) -> None:
    if _depth(value) <= limit:
        check_free_form(value, field="attributes", limit=limit)
        return
    with pytest.raises(ValidationError) as refused:
        check_free_form(value, field="attributes", limit=limit)
    assert refused.value.field == "attributes"
    assert refused.value.message == f"must not nest more than {limit} levels deep"


@given(st.integers(min_value=1, max_value=3 * MAX_DEPTH))
def test_the_nested_values_these_tests_send_are_as_deep_as_they_say(depth: int) -> None:
    assert orjson.loads(nested_json(depth)) == nested(depth)
    assert _depth(nested(depth)) == depth
