"""A path no route serves answers 404, and a method its path does not serve 405 (with
``Allow``), in the JSON error envelope of the surface the path belongs to: a vendor's client
reads the error it expects, never a plain-text ``Not Found``."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient


def gainsight(body: Any) -> bool:
    error = body["externalapierror"]
    return set(error) == {"status", "message", "debugMessage", "subErrors"} and bool(
        error["message"]
    )


def engagelab(body: Any) -> bool:
    return set(body) == {"error"} and set(body["error"]) == {"code", "message"}


def insider(body: Any) -> bool:
    return set(body) == {"error"} and isinstance(body["error"], str)


def native(body: Any) -> bool:
    return {"type", "title", "status", "detail"} <= set(body)


CASES = [
    # (surface check, media type, unknown path, (method, path) the path does not serve)
    (gainsight, "application/json", "/v1/nothing/here", ("PATCH", "/v1/users/someone")),
    (gainsight, "application/json", "/v1/accounts-typo", ("POST", "/v1/feature")),
    (engagelab, "application/json", "/v4/nothing", ("PUT", "/v4/tags")),
    (insider, "application/json", "/api/user/v1/nothing", ("GET", "/api/user/v1/upsert")),
    (native, "application/problem+json", "/api/v1/nothing", ("PATCH", "/api/v1/profiles")),
    (native, "application/problem+json", "/no/surface/at/all", ("POST", "/healthz")),
]


@pytest.fixture
def backend() -> str:
    # Routing does not depend on the database.
    return "sqlite"


@pytest.mark.parametrize(("envelope", "media", "unknown", "wrong"), CASES)
def test_unknown_routes_and_wrong_methods_answer_in_the_surfaces_envelope(
    client: TestClient, envelope: Any, media: str, unknown: str, wrong: tuple[str, str]
) -> None:
    missing = client.get(unknown)
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith(media)
    assert envelope(missing.json()), missing.text
    assert unknown in missing.text
    method, path = wrong
    refused = client.request(method, path)
    assert refused.status_code == 405, refused.text
    assert refused.headers["content-type"].startswith(media)
    assert envelope(refused.json()), refused.text
    assert method in refused.text
    assert refused.headers["allow"]


def test_gainsight_names_the_http_status_as_spring_does(client: TestClient) -> None:
    assert client.get("/v1/nope").json()["externalapierror"]["status"] == "NOT_FOUND"
    wrong = client.request("PATCH", "/v1/users/x").json()["externalapierror"]
    assert wrong["status"] == "METHOD_NOT_ALLOWED"
