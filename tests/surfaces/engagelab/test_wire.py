"""Golden wire tests for EngageLab's device endpoints: requests and answers as the vendor's own.

``/v4/devices/{rid}`` GET/POST and ``/v4/devices/status``; deletion: test_wire_device_delete.py;
tags and aliases: test_wire_tags_aliases.py; auth, 413 and 429: test_wire_errors.py.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from starlette.testclient import TestClient

from obliviate.bootstrap import Container
from tests.support.headers import el_headers
from tests.support.rows import snapshot
from tests.support.tenants import Tenant
from tests.surfaces.engagelab.support import (
    INVALID,
    alias_ids,
    all_tags,
    assert_error,
    assert_ok,
    get_device,
    set_device,
    tags_count,
)

RID = "1a0018970a8fdbcd2e4"
OTHER_RID = "160a3797c8e9d2a1f63"


# --- POST /v4/devices/{rid} and GET ---------------------------------------------------------


def test_first_post_registers_the_device_and_get_shows_its_tags_and_alias(
    client: TestClient, tenant: Tenant
) -> None:
    response = client.post(
        f"/v4/devices/{RID}",
        json={"tags": {"add": ["tag1", "tag2"]}, "alias": "alias1"},
        headers=el_headers(tenant),
    )
    assert_ok(response, {})
    got = client.get(f"/v4/devices/{RID}", headers=el_headers(tenant))
    assert_ok(got, {"tags": ["tag1", "tag2"], "alias": "alias1"})


def test_a_device_registered_with_an_empty_body_has_no_tags_and_an_empty_alias(
    client: TestClient, tenant: Tenant
) -> None:
    assert_ok(client.post(f"/v4/devices/{RID}", json={}, headers=el_headers(tenant)), {})
    got = client.get(f"/v4/devices/{RID}", headers=el_headers(tenant))
    assert_ok(got, {"tags": [], "alias": ""})


def test_get_of_an_unknown_device_is_404_code_27002(client: TestClient, tenant: Tenant) -> None:
    response = client.get("/v4/devices/never-registered", headers=el_headers(tenant))
    assert_error(response, 404, INVALID)


def test_add_and_remove_change_only_the_named_tags(client: TestClient, tenant: Tenant) -> None:
    set_device(client, tenant, RID, add=["a", "b", "c"])
    set_device(client, tenant, RID, add=["d"], remove=["b", "not_there"])
    assert get_device(client, tenant, RID) == {"tags": ["a", "c", "d"], "alias": ""}


def test_omitting_tags_and_alias_keeps_both(client: TestClient, tenant: Tenant) -> None:
    set_device(client, tenant, RID, add=["a"], alias="keep")
    set_device(client, tenant, RID)
    set_device(client, tenant, RID, alias="keep")
    assert get_device(client, tenant, RID) == {"tags": ["a"], "alias": "keep"}


def test_empty_string_tags_clears_every_tag_and_keeps_the_alias(
    client: TestClient, tenant: Tenant
) -> None:
    set_device(client, tenant, RID, add=["a", "b"], alias="mine")
    response = client.post(f"/v4/devices/{RID}", json={"tags": ""}, headers=el_headers(tenant))
    assert_ok(response, {})
    assert get_device(client, tenant, RID) == {"tags": [], "alias": "mine"}
    assert tags_count(client, tenant, ["a", "b"]) == {"a": 0, "b": 0}
    assert all_tags(client, tenant) == []


def test_empty_string_alias_unbinds_it_and_keeps_the_tags(
    client: TestClient, tenant: Tenant
) -> None:
    set_device(client, tenant, RID, add=["a"], alias="mine")
    response = client.post(f"/v4/devices/{RID}", json={"alias": ""}, headers=el_headers(tenant))
    assert_ok(response, {})
    assert get_device(client, tenant, RID) == {"tags": ["a"], "alias": ""}
    assert alias_ids(client, tenant, "mine") == []


def test_binding_an_alias_held_by_another_device_moves_it(
    client: TestClient, tenant: Tenant
) -> None:
    set_device(client, tenant, RID, alias="shared")
    set_device(client, tenant, OTHER_RID, alias="shared")
    assert alias_ids(client, tenant, "shared") == [OTHER_RID]
    assert get_device(client, tenant, RID)["alias"] == ""
    assert get_device(client, tenant, OTHER_RID)["alias"] == "shared"


def test_binding_a_new_alias_replaces_the_devices_old_one(
    client: TestClient, tenant: Tenant
) -> None:
    set_device(client, tenant, RID, alias="first")
    set_device(client, tenant, RID, alias="second")
    assert alias_ids(client, tenant, "first") == []
    assert alias_ids(client, tenant, "second") == [RID]


def test_a_device_holds_one_hundred_tags(client: TestClient, tenant: Tenant) -> None:
    hundred = [f"t{n:03d}" for n in range(100)]
    set_device(client, tenant, RID, add=hundred)
    assert get_device(client, tenant, RID)["tags"] == hundred


def test_the_hundred_and_first_tag_is_refused_and_changes_nothing(
    client: TestClient, tenant: Tenant, container: Container
) -> None:
    set_device(client, tenant, RID, add=[f"t{n:03d}" for n in range(100)])
    before = snapshot(container)
    response = client.post(
        f"/v4/devices/{RID}", json={"tags": {"add": ["one-more"]}}, headers=el_headers(tenant)
    )
    assert "tags" in assert_error(response, 400, INVALID)
    assert snapshot(container) == before


def test_replacing_a_tag_at_the_limit_is_allowed(client: TestClient, tenant: Tenant) -> None:
    set_device(client, tenant, RID, add=[f"t{n:03d}" for n in range(100)])
    set_device(client, tenant, RID, add=["swap"], remove=["t000"])
    tags = get_device(client, tenant, RID)["tags"]
    assert len(tags) == 100
    assert "swap" in tags
    assert "t000" not in tags


def test_a_first_post_with_101_tags_registers_nothing(
    client: TestClient, tenant: Tenant, container: Container
) -> None:
    before = snapshot(container)
    body = {"tags": {"add": [f"t{n:03d}" for n in range(101)]}}
    response = client.post(f"/v4/devices/{RID}", json=body, headers=el_headers(tenant))
    assert_error(response, 400, INVALID)
    assert snapshot(container) == before
    assert_error(client.get(f"/v4/devices/{RID}", headers=el_headers(tenant)), 404, INVALID)


# --- tag and alias validation (1-40 bytes, letters, digits, _ @!#$&*+=. and CJK) ------------

ACCEPTED_LABELS = [
    "x",
    "x" * 40,
    "标签",
    "タグ",
    "태그",
    "中" * 13,  # 39 bytes of UTF-8
    "Ab_9@!#$&*+=.",
]
REFUSED_LABELS = ["", "a b", "x" * 41, "中" * 14, "a-b", "a/b", "a,b", "tag\n", "smile\U0001f600"]
# alias "" is not refused: it is the documented way to unbind.
REFUSED = [
    (field, label)
    for field in ("tags.add", "tags.remove", "alias")
    for label in REFUSED_LABELS
    if (field, label) != ("alias", "")
]


@pytest.mark.parametrize("label", ACCEPTED_LABELS)
def test_tags_and_aliases_of_allowed_characters_up_to_40_bytes_are_accepted(
    client: TestClient, tenant: Tenant, label: str
) -> None:
    set_device(client, tenant, RID, add=[label], alias=label)
    assert get_device(client, tenant, RID) == {"tags": [label], "alias": label}
    assert tags_count(client, tenant, [label]) == {label: 1}


@pytest.mark.parametrize(("field", "label"), REFUSED, ids=[f"{f}-{lb!r}" for f, lb in REFUSED])
def test_an_invalid_tag_or_alias_is_400_naming_the_field_and_changes_nothing(
    client: TestClient, tenant: Tenant, container: Container, label: str, field: str
) -> None:
    set_device(client, tenant, RID, add=["kept"], alias="kept")
    before = snapshot(container)
    body: dict[str, Any]
    if field == "alias":
        body = {"tags": {"add": ["new"]}, "alias": label}
    else:
        body = {"tags": {field.removeprefix("tags."): [label]}, "alias": "new"}
    response = client.post(f"/v4/devices/{RID}", json=body, headers=el_headers(tenant))
    message = assert_error(response, 400, INVALID)
    assert field.split(".")[0] in message
    assert snapshot(container) == before
    assert get_device(client, tenant, RID) == {"tags": ["kept"], "alias": "kept"}


@pytest.mark.parametrize(
    "body",
    [
        {"tags": "a"},
        {"tags": ["a"]},
        {"tags": {"add": "a"}},
        {"tags": {"add": [1]}},
        {"alias": 5},
        {"alias": None, "tags": 7},
        [],
    ],
    ids=repr,
)
def test_a_body_of_the_wrong_shape_is_400_and_registers_nothing(
    client: TestClient, tenant: Tenant, container: Container, body: Any
) -> None:
    before = snapshot(container)
    response = client.post(f"/v4/devices/{RID}", json=body, headers=el_headers(tenant))
    assert_error(response, 400, INVALID)
    assert snapshot(container) == before


def test_a_registration_id_over_128_bytes_is_refused(
    client: TestClient, tenant: Tenant, container: Container
) -> None:
    before = snapshot(container)
    response = client.post(f"/v4/devices/{'r' * 129}", json={}, headers=el_headers(tenant))
    assert "registration_id" in assert_error(response, 400, INVALID)
    assert snapshot(container) == before


# --- POST /v4/devices/status -------------------------------------------------------------

LAST_ONLINE = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")


def test_status_lists_known_devices_as_offline_and_omits_unknown_ones(
    client: TestClient, tenant: Tenant
) -> None:
    set_device(client, tenant, RID)
    set_device(client, tenant, OTHER_RID)
    response = client.post(
        "/v4/devices/status",
        json={"registration_ids": [OTHER_RID, "unknown", RID]},
        headers=el_headers(tenant),
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    entries = response.json()
    assert [e["regid"] for e in entries] == [OTHER_RID, RID]
    for entry in entries:
        assert set(entry) == {"regid", "online", "last_online_time"}
        assert entry["online"] is False
        assert LAST_ONLINE.match(entry["last_online_time"]), entry


def test_status_of_no_known_device_is_an_empty_array(client: TestClient, tenant: Tenant) -> None:
    response = client.post(
        "/v4/devices/status", json={"registration_ids": ["nobody"]}, headers=el_headers(tenant)
    )
    assert_ok(response, [])


def test_status_takes_1000_registration_ids(client: TestClient, tenant: Tenant) -> None:
    set_device(client, tenant, RID)
    ids = [RID, *(f"r{n}" for n in range(999))]
    response = client.post(
        "/v4/devices/status", json={"registration_ids": ids}, headers=el_headers(tenant)
    )
    assert response.status_code == 200, response.text
    assert [e["regid"] for e in response.json()] == [RID]


@pytest.mark.parametrize(
    "body",
    [
        {"registration_ids": [f"r{n}" for n in range(1001)]},
        {},
        {"registration_ids": "r1"},
        {"registration_ids": [1]},
        {"registration_ids": [""]},
    ],
    ids=["1001-ids", "missing", "string", "number", "empty-id"],
)
def test_status_with_bad_registration_ids_is_400_naming_them(
    client: TestClient, tenant: Tenant, body: dict[str, Any]
) -> None:
    response = client.post("/v4/devices/status", json=body, headers=el_headers(tenant))
    assert "registration_ids" in assert_error(response, 400, INVALID)
