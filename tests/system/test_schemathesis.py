"""Schemathesis fuzzing against a real server, every operation of all four surfaces.

Each surface's OpenAPI document is read from the live server at ``/<surface>/openapi.json``;
requests are generated from it and sent with a tenant's valid credentials: valid ones, ones
that break the schema, and valid ones aimed at a person and a device that exist (random ids
would only ever reach the not-found branch). Whatever comes in, the server must not answer 5xx,
must answer only statuses the document lists for the operation, and each answer must match the
schema documented for its status. A failure prints the request as a curl line and the
Hypothesis seed that replays it. Runs on SQLite and on PostgreSQL, whose text cannot hold what
SQLite's can (NUL).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import APIOperation, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import create_engine, select

from obliviate.storage import tables as t
from obliviate.storage.engine import normalise_url
from tests.support.headers import tenant_headers
from tests.support.servers import (
    BACKENDS,
    Server,
    create_tenant,
    database_url_for,
    server_env,
    serving,
    wait_for,
)

pytestmark = pytest.mark.system

# Enough to find the cracks, few enough for CI: about half a minute per database.
MAX_EXAMPLES = 30
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]
SURFACES = ("engagelab", "gainsight", "insider", "native")

# The person and device every operation is also aimed at, re-created before each operation.
UUID, EMAIL, RID, TAG, ALIAS = (
    "fuzz-user",
    "fuzz@example.com",
    "fuzz-device",
    "fuzztag",
    "fuzzalias",
)
KNOWN_PATH_PARAMS = {
    "identify_id": UUID,
    "uuid": UUID,
    "rid": RID,
    "tag": TAG,
    "alias": ALIAS,
    "type": "uuid",
    "value": UUID,
    "account_id": "fuzz-account",
    "model": "user",
}


@dataclass(frozen=True)
class Live:
    server: Server
    database_url: str
    tenant: str
    headers: dict[str, dict[str, str]]


@pytest.fixture(scope="module", params=BACKENDS)
def live(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Live]:
    data = tmp_path_factory.mktemp("fuzz")
    database_url = database_url_for(str(request.param), data, request)
    # The fuzzer is one very busy client: limits and the mass-delete guard would answer most of
    # its requests before they reach the code under test.
    env = server_env(
        database_url,
        rate_limit="1000000/second",
        OBLIVIATE_DATA_DIR=str(data),
        OBLIVIATE_MASS_DELETE_FLOOR="1000000",
    )
    with serving(env, data / "server.log") as server:
        # A tenant of its own: on a shared PostgreSQL the fuzzed data stays out of others' way.
        name = f"fuzz-{secrets.token_hex(4)}"
        yield Live(server, database_url, name, tenant_headers(create_tenant(env, name)))


def _seed(live: Live) -> None:
    """(Re)create the person (with an event) and the device (with a tag and an alias) that the
    aimed requests name: an earlier operation's fuzzing may have deleted or suppressed them."""
    native = {**live.headers["native"], "Content-Type": "application/json"}
    engagelab = {**live.headers["engagelab"], "Content-Type": "application/json"}
    call = live.server.request
    for id_type, value in (("uuid", UUID), ("email", EMAIL), ("registration_id", RID)):
        call("DELETE", f"/api/v1/suppressions/{id_type}/{value}", None, native)
    person = {"attributes": {"firstName": "Fuzz", "custom": {"plan": "pro"}}}
    status, body = call("PUT", f"/api/v1/profiles/{UUID}", person, native)
    assert status in (200, 201), body
    # Best effort: another person may hold the address by now.
    call("PUT", f"/api/v1/profiles/{UUID}", {"identifiers": {"email": EMAIL}}, native)
    events = {"events": [{"name": "fuzz_event", "properties": {"k": "v"}}]}
    assert call("POST", f"/api/v1/profiles/{UUID}/events", events, native)[0] == 201
    gainsight = {**live.headers["gainsight"], "Content-Type": "application/json"}
    account = {"id": "fuzz-account", "name": "Fuzz Co", "propertyKeys": ["AP-FUZZ"]}
    # 400 when it is still there from the last operation: either way it exists now.
    assert call("POST", "/v1/accounts", account, gainsight)[0] in (201, 400)
    linked = {"accountId": "fuzz-account", "customAttributes": {"plan": "pro"}}
    assert call("PUT", f"/v1/users/{UUID}", linked, gainsight)[0] == 204
    device = {"tags": {"add": [TAG]}, "alias": ALIAS}
    status, body = call("POST", f"/v4/devices/{RID}", device, engagelab)
    assert status == 200, body


def _aim(body: Any) -> Any:
    """The same body with its identifiers naming the seeded person and device."""
    if isinstance(body, list):
        return [_aim(item) for item in body]
    if not isinstance(body, dict):
        return body
    aimed = {key: _aim(value) for key, value in body.items()}
    for key in ("identifiers", "old_identifier"):
        if key in aimed:
            aimed[key] = {"uuid": UUID}
    if "identifyId" in aimed:
        aimed["identifyId"] = UUID
    if isinstance(aimed.get("subjects"), list):
        aimed["subjects"] = [{"type": "uuid", "value": UUID}, *aimed["subjects"][:2]]
    ids = aimed.get("registration_ids")
    if isinstance(ids, list):
        aimed["registration_ids"] = [RID, *ids[:2]]
    elif isinstance(ids, dict):
        aimed["registration_ids"] = {key: [RID] for key in ids}
    return aimed


def _aimed(case: schemathesis.Case[Any]) -> schemathesis.Case[Any]:
    if isinstance(case.body, dict | list):
        case.body = _aim(case.body)
    return case


def _fuzz(operation: APIOperation[Any, Any, Any, Any]) -> None:
    known = {
        p.name: KNOWN_PATH_PARAMS[p.name]
        for p in operation.path_parameters
        if p.name in KNOWN_PATH_PARAMS
    }
    cases = st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
        operation.as_strategy(GenerationMode.POSITIVE, path_parameters=known).map(_aimed),
    )

    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=cases)
    def run(case: schemathesis.Case[Any]) -> None:
        case.call_and_validate(checks=CHECKS)

    run()


@pytest.mark.parametrize("surface", SURFACES)
def test_no_operation_answers_5xx_or_off_its_documented_statuses_and_schemas(
    surface: str, live: Live, subtests: pytest.Subtests
) -> None:
    config = schemathesis.Config.from_dict({"headers": live.headers[surface]})
    url = f"{live.server.base}/{surface}/openapi.json"
    schema = schemathesis.openapi.from_url(url, config=config)
    schema.validate()
    paths = schema.raw_schema["paths"]
    operations = [schema[path][method] for path, item in paths.items() for method in item]
    assert len(operations) >= 5
    for operation in operations:
        with subtests.test(msg=operation.label):
            _seed(live)
            _fuzz(operation)


def test_every_surface_serves_its_document_without_credentials(live: Live) -> None:
    for surface in SURFACES:
        status, document = live.server.request("GET", f"/{surface}/openapi.json")
        assert status == 200, surface
        assert document["openapi"].startswith("3.1"), surface
        assert document["paths"], surface


def test_the_worker_finished_every_job_the_fuzzing_left_and_nothing_crashed(live: Live) -> None:
    engine = create_engine(normalise_url(live.database_url))
    try:
        with engine.connect() as conn:
            tenant_id = conn.execute(
                select(t.tenants.c.tenant_id).where(t.tenants.c.name == live.tenant)
            ).scalar_one()

        def jobs() -> list[Any]:
            with engine.connect() as conn:
                query = select(t.jobs.c.job_id, t.jobs.c.state, t.jobs.c.last_error)
                return list(conn.execute(query.where(t.jobs.c.tenant_id == tenant_id)))

        wait_for(lambda: all(j.state not in ("queued", "running") for j in jobs()), "jobs", 60)
        assert [j for j in jobs() if j.state == "failed"] == []
    finally:
        engine.dispose()
    log = Path(live.server.log).read_text()
    assert "Traceback" not in log, log[-4000:]
