"""Helpers shared by the EngageLab surface tests: the error envelope, devices, tags and
aliases, and the device rows a deletion leaves behind."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx2
from sqlalchemy import func, select
from starlette.testclient import TestClient

from obliviate.bootstrap import Container
from obliviate.storage import tables as t
from tests.support.headers import el_headers, native_headers
from tests.support.tenants import Tenant

AUTH_MISSING = 27001
INVALID = 27002
AUTH_FAILED = 27004


def assert_error(response: httpx2.Response, status: int, code: int) -> str:
    """The whole EngageLab envelope ``{"error":{"code","message"}}``; returns the message."""
    assert response.status_code == status, f"{response.status_code} {response.text}"
    assert response.headers["content-type"].startswith("application/json"), response.headers
    body = response.json()
    # support.py is not assertion-rewritten by pytest: say what was received.
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == {"code", "message"}, body
    assert error["code"] == code, f"code {error['code']!r} != {code!r}: {body}"
    assert isinstance(error["message"], str), body
    assert error["message"], body
    return str(error["message"])


def assert_ok(response: httpx2.Response, body: Any) -> None:
    """A 200 with exactly this JSON body, as the vendor sends it (explicit charset)."""
    assert response.status_code == 200, f"{response.status_code} {response.text}"
    assert response.headers["content-type"] == "application/json; charset=utf-8", response.headers
    assert response.json() == body, response.text


def set_device(
    client: TestClient,
    tenant: Tenant,
    rid: str,
    *,
    add: list[str] | None = None,
    remove: list[str] | None = None,
    tags: Any = None,
    alias: str | None = None,
) -> None:
    """POST /v4/devices/{rid}; ``tags`` (e.g. "") wins over add/remove when given."""
    body: dict[str, Any] = {}
    if tags is not None:
        body["tags"] = tags
    elif add is not None or remove is not None:
        body["tags"] = {
            **({"add": add} if add is not None else {}),
            **({"remove": remove} if remove is not None else {}),
        }
    if alias is not None:
        body["alias"] = alias
    response = client.post(f"/v4/devices/{rid}", json=body, headers=el_headers(tenant))
    assert_ok(response, {})


def get_device(client: TestClient, tenant: Tenant, rid: str) -> dict[str, Any]:
    response = client.get(f"/v4/devices/{rid}", headers=el_headers(tenant))
    assert response.status_code == 200, response.text
    device: dict[str, Any] = response.json()
    return device


def device_is_gone(client: TestClient, tenant: Tenant, rid: str) -> bool:
    response = client.get(f"/v4/devices/{rid}", headers=el_headers(tenant))
    if response.status_code == 200:
        return False
    assert_error(response, 404, INVALID)
    return True


def delete_device(client: TestClient, tenant: Tenant, rid: str) -> None:
    response = client.delete(f"/v4/devices/{rid}", headers=el_headers(tenant))
    assert_ok(response, {"success": True})


def tags_count(
    client: TestClient, tenant: Tenant, tags: list[str], platform: str | None = None
) -> dict[str, int]:
    params: dict[str, Any] = {"tags": tags}
    if platform is not None:
        params["platform"] = platform
    response = client.get("/v4/tags_count", params=params, headers=el_headers(tenant))
    assert response.status_code == 200, response.text
    counts: dict[str, int] = response.json()["tagsCount"]
    return counts


def all_tags(client: TestClient, tenant: Tenant) -> list[str]:
    response = client.get("/v4/tags", headers=el_headers(tenant))
    assert response.status_code == 200, response.text
    tags: list[str] = response.json()["tags"]
    return tags


def alias_ids(client: TestClient, tenant: Tenant, alias: str, platform: str = "") -> list[str]:
    query = f"?platform={platform}" if platform else ""
    response = client.get(f"/v4/aliases/{alias}{query}", headers=el_headers(tenant))
    assert response.status_code == 200, response.text
    ids: list[str] = response.json()["registration_ids"]
    return ids


def has_tag(client: TestClient, tenant: Tenant, tag: str, rid: str) -> bool:
    response = client.get(f"/v4/tags/{tag}/registration_ids/{rid}", headers=el_headers(tenant))
    assert response.status_code == 200, response.text
    return bool(response.json()["result"])


def device_rows(container: Container, tenant_id: str, rid: str) -> dict[str, int]:
    """Rows left of every device ever registered under ``rid``: devices and their tags."""
    d, dt = t.devices, t.device_tags
    with container.engine.connect() as conn:
        rid_hash = container.vault.lookup_hash("registration_id", rid)
        ids = select(d.c.device_id).where(
            d.c.tenant_id == tenant_id, d.c.registration_hash == rid_hash
        )
        devices = conn.execute(
            select(func.count()).select_from(d).where(d.c.device_id.in_(ids))
        ).scalar_one()
        tags = conn.execute(
            select(func.count())
            .select_from(dt)
            .where(dt.c.tenant_id == tenant_id, dt.c.device_id.in_(ids))
        ).scalar_one()
    return {"devices": int(devices), "device_tags": int(tags)}


def set_platform(client: TestClient, tenant: Tenant, rid: str, platform: str) -> None:
    """The vendor's client SDK reports the platform; Obliviate takes it on its native API."""
    response = client.put(
        f"/api/v1/devices/{rid}", json={"platform": platform}, headers=native_headers(tenant)
    )
    assert response.status_code in (200, 201), response.text


@dataclass(frozen=True)
class Call:
    """One request to one EngageLab endpoint, with a body that would change something."""

    method: str
    path: str
    body: Any = None

    @property
    def mutates(self) -> bool:
        return self.method != "GET" and self.path != "/v4/devices/status"


def every_endpoint(rid: str, tag: str = "news", alias: str = "ann") -> dict[str, Call]:
    """Every EngageLab endpoint, aimed at one device, tag and alias."""
    return {
        "GET device": Call("GET", f"/v4/devices/{rid}"),
        "POST device": Call(
            "POST", f"/v4/devices/{rid}", {"tags": {"add": ["x1"], "remove": [tag]}, "alias": "x"}
        ),
        "DELETE device": Call("DELETE", f"/v4/devices/{rid}"),
        "POST status": Call("POST", "/v4/devices/status", {"registration_ids": [rid]}),
        "GET tags": Call("GET", "/v4/tags"),
        "POST tag": Call("POST", f"/v4/tags/{tag}", {"registration_ids": {"remove": [rid]}}),
        "DELETE tag": Call("DELETE", f"/v4/tags/{tag}?platform=android,ios"),
        "GET tags_count": Call("GET", f"/v4/tags_count?tags={tag}&platform=android"),
        "GET tag membership": Call("GET", f"/v4/tags/{tag}/registration_ids/{rid}"),
        "GET alias": Call("GET", f"/v4/aliases/{alias}?platform=android"),
        "DELETE alias": Call("DELETE", f"/v4/aliases/{alias}"),
    }
