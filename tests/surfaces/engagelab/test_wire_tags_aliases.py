"""Golden wire tests for EngageLab's tag and alias endpoints: requests and answers as the
vendor's own.

Both query forms the official SDKs send are accepted: ``tags=a&tags=b`` and ``tags=a,b``,
``platform=android,ios`` and ``platform=android&platform=ios``.
"""

from __future__ import annotations

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
    has_tag,
    set_device,
    set_platform,
    tags_count,
)

ANDROID, IOS, WEB = "rid-android", "rid-ios", "rid-web"


@pytest.fixture
def fleet(client: TestClient, tenant: Tenant) -> None:
    """Three devices on three platforms; "news" on all, "sale" on android and ios."""
    for rid, platform in ((ANDROID, "android"), (IOS, "ios"), (WEB, "web")):
        set_platform(client, tenant, rid, platform)
    set_device(client, tenant, ANDROID, add=["news", "sale"], alias="ann")
    set_device(client, tenant, IOS, add=["news", "sale"], alias="ian")
    set_device(client, tenant, WEB, add=["news"], alias="wes")


# --- GET /v4/tags ------------------------------------------------------------------------


def test_tags_of_a_tenant_without_devices_is_an_empty_list(
    client: TestClient, tenant: Tenant
) -> None:
    assert_ok(client.get("/v4/tags", headers=el_headers(tenant)), {"tags": []})


@pytest.mark.usefixtures("fleet")
def test_tags_lists_every_tag_in_use_once(client: TestClient, tenant: Tenant) -> None:
    assert_ok(client.get("/v4/tags", headers=el_headers(tenant)), {"tags": ["news", "sale"]})


# --- POST /v4/tags/{tag} -----------------------------------------------------------------


@pytest.mark.usefixtures("fleet")
def test_tag_set_adds_and_removes_devices_and_answers_an_empty_object(
    client: TestClient, tenant: Tenant
) -> None:
    response = client.post(
        "/v4/tags/vip",
        json={"registration_ids": {"add": [ANDROID, WEB], "remove": []}},
        headers=el_headers(tenant),
    )
    assert_ok(response, {})
    response = client.post(
        "/v4/tags/sale", json={"registration_ids": {"remove": [IOS]}}, headers=el_headers(tenant)
    )
    assert_ok(response, {})
    assert get_device(client, tenant, ANDROID)["tags"] == ["news", "sale", "vip"]
    assert get_device(client, tenant, IOS)["tags"] == ["news"]
    assert get_device(client, tenant, WEB)["tags"] == ["news", "vip"]
    assert tags_count(client, tenant, ["vip", "sale"]) == {"vip": 2, "sale": 1}


@pytest.mark.usefixtures("fleet")
def test_tag_set_adding_a_tag_a_device_already_has_is_harmless(
    client: TestClient, tenant: Tenant
) -> None:
    body = {"registration_ids": {"add": [ANDROID]}}
    assert_ok(client.post("/v4/tags/news", json=body, headers=el_headers(tenant)), {})
    assert get_device(client, tenant, ANDROID)["tags"] == ["news", "sale"]


@pytest.mark.usefixtures("fleet")
def test_tag_set_with_a_cjk_tag_in_the_path(client: TestClient, tenant: Tenant) -> None:
    body = {"registration_ids": {"add": [IOS]}}
    assert_ok(client.post("/v4/tags/标签", json=body, headers=el_headers(tenant)), {})
    assert has_tag(client, tenant, "标签", IOS)
    assert tags_count(client, tenant, ["标签"]) == {"标签": 1}


@pytest.mark.usefixtures("fleet")
def test_tag_set_naming_an_unknown_device_is_404_and_changes_nothing(
    client: TestClient, tenant: Tenant, container: Container
) -> None:
    before = snapshot(container)
    body = {"registration_ids": {"add": [ANDROID, "nobody"]}}
    response = client.post("/v4/tags/vip", json=body, headers=el_headers(tenant))
    assert_error(response, 404, INVALID)
    assert snapshot(container) == before


@pytest.mark.parametrize("change", ["add", "remove"])
def test_tag_set_takes_1000_registration_ids_and_refuses_1001(
    client: TestClient, tenant: Tenant, container: Container, change: str
) -> None:
    set_device(client, tenant, "r0")
    before = snapshot(container)
    ids = [f"r{n}" for n in range(1000)]
    # 1000 ids pass the size check and reach the device look-up: r1.. are unknown, hence 404.
    at_limit = {"registration_ids": {change: ids}}
    response = client.post("/v4/tags/vip", json=at_limit, headers=el_headers(tenant))
    assert_error(response, 404, INVALID)
    over = {"registration_ids": {change: [*ids, "r1000"]}}
    response = client.post("/v4/tags/vip", json=over, headers=el_headers(tenant))
    assert "registration_ids" in assert_error(response, 400, INVALID)
    assert snapshot(container) == before


@pytest.mark.usefixtures("fleet")
def test_tag_set_that_would_give_a_device_a_101st_tag_is_refused_and_changes_nothing(
    client: TestClient, tenant: Tenant, container: Container
) -> None:
    set_device(client, tenant, IOS, add=[f"t{n:03d}" for n in range(98)])
    before = snapshot(container)
    body = {"registration_ids": {"add": [ANDROID, IOS]}}
    response = client.post("/v4/tags/vip", json=body, headers=el_headers(tenant))
    assert "tags" in assert_error(response, 400, INVALID)
    assert snapshot(container) == before


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"registration_ids": [ANDROID]},
        {"registration_ids": {"add": ANDROID}},
        {"registration_ids": {"add": [5]}},
    ],
    ids=["missing", "array", "string", "number"],
)
@pytest.mark.usefixtures("fleet")
def test_tag_set_with_bad_registration_ids_is_400_naming_them(
    client: TestClient, tenant: Tenant, container: Container, body: dict[str, Any]
) -> None:
    before = snapshot(container)
    response = client.post("/v4/tags/vip", json=body, headers=el_headers(tenant))
    assert "registration_ids" in assert_error(response, 400, INVALID)
    assert snapshot(container) == before


@pytest.mark.parametrize("tag", ["a b", "x" * 41, "a-b"])
@pytest.mark.usefixtures("fleet")
def test_tag_set_with_an_invalid_tag_is_400_and_changes_nothing(
    client: TestClient, tenant: Tenant, container: Container, tag: str
) -> None:
    before = snapshot(container)
    body = {"registration_ids": {"add": [ANDROID]}}
    response = client.post(f"/v4/tags/{tag}", json=body, headers=el_headers(tenant))
    assert "tag" in assert_error(response, 400, INVALID)
    assert snapshot(container) == before


# --- DELETE /v4/tags/{tag} ---------------------------------------------------------------


@pytest.mark.usefixtures("fleet")
def test_tag_delete_removes_the_tag_from_every_device(client: TestClient, tenant: Tenant) -> None:
    assert_ok(client.delete("/v4/tags/news", headers=el_headers(tenant)), {})
    assert tags_count(client, tenant, ["news", "sale"]) == {"news": 0, "sale": 2}
    assert all_tags(client, tenant) == ["sale"]
    assert get_device(client, tenant, WEB) == {"tags": [], "alias": "wes"}


@pytest.mark.parametrize(
    "query", ["?platform=android,ios", "?platform=android&platform=ios", "?platform=ios,android"]
)
@pytest.mark.usefixtures("fleet")
def test_tag_delete_by_platform_spares_devices_of_other_platforms(
    client: TestClient, tenant: Tenant, query: str
) -> None:
    assert_ok(client.delete(f"/v4/tags/news{query}", headers=el_headers(tenant)), {})
    assert not has_tag(client, tenant, "news", ANDROID)
    assert not has_tag(client, tenant, "news", IOS)
    assert has_tag(client, tenant, "news", WEB)
    assert tags_count(client, tenant, ["news", "sale"]) == {"news": 1, "sale": 2}


@pytest.mark.usefixtures("fleet")
def test_tag_delete_of_an_unused_tag_is_a_harmless_200(
    client: TestClient, tenant: Tenant, container: Container
) -> None:
    before = snapshot(container)
    assert_ok(client.delete("/v4/tags/unused", headers=el_headers(tenant)), {})
    assert snapshot(container) == before


@pytest.mark.parametrize("query", ["?platform=windows", "?platform=android,symbian"])
@pytest.mark.usefixtures("fleet")
def test_tag_delete_with_an_unknown_platform_is_400_and_changes_nothing(
    client: TestClient, tenant: Tenant, container: Container, query: str
) -> None:
    before = snapshot(container)
    response = client.delete(f"/v4/tags/news{query}", headers=el_headers(tenant))
    assert "platform" in assert_error(response, 400, INVALID)
    assert snapshot(container) == before


# --- GET /v4/tags_count ------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "tags=news&tags=sale&tags=none",
        "tags=news,sale,none",
        "tags=news,sale&tags=none",
    ],
)
@pytest.mark.usefixtures("fleet")
def test_tags_count_accepts_repeated_and_comma_separated_tags(
    client: TestClient, tenant: Tenant, query: str
) -> None:
    response = client.get(f"/v4/tags_count?{query}", headers=el_headers(tenant))
    assert_ok(response, {"tagsCount": {"news": 3, "sale": 2, "none": 0}})


@pytest.mark.parametrize(
    ("platform", "expected"),
    [
        ("platform=android", {"news": 1, "sale": 1}),
        ("platform=web", {"news": 1, "sale": 0}),
        ("platform=android,ios", {"news": 2, "sale": 2}),
        ("platform=android&platform=web", {"news": 2, "sale": 1}),
        ("platform=hmos", {"news": 0, "sale": 0}),
        ("platform=", {"news": 3, "sale": 2}),
    ],
)
@pytest.mark.usefixtures("fleet")
def test_tags_count_counts_only_devices_of_the_named_platforms(
    client: TestClient, tenant: Tenant, platform: str, expected: dict[str, int]
) -> None:
    response = client.get(f"/v4/tags_count?tags=news,sale&{platform}", headers=el_headers(tenant))
    assert_ok(response, {"tagsCount": expected})


@pytest.mark.parametrize(
    "query",
    ["", "?tags=", "?tags=a%20b", f"?tags={'x' * 41}", "?tags=news&platform=windows"],
    ids=["no-tags", "empty-tags", "space", "41-bytes", "unknown-platform"],
)
@pytest.mark.usefixtures("fleet")
def test_tags_count_with_bad_parameters_is_400(
    client: TestClient, tenant: Tenant, query: str
) -> None:
    response = client.get(f"/v4/tags_count{query}", headers=el_headers(tenant))
    assert_error(response, 400, INVALID)


# --- GET /v4/tags/{tag}/registration_ids/{rid} --------------------------------------------


@pytest.mark.parametrize(
    ("tag", "rid", "result"),
    [
        ("sale", ANDROID, True),
        ("sale", WEB, False),
        ("never", ANDROID, False),
        ("sale", "x", False),
    ],
)
@pytest.mark.usefixtures("fleet")
def test_tag_membership_answers_result_true_or_false(
    client: TestClient, tenant: Tenant, tag: str, rid: str, result: bool
) -> None:
    response = client.get(f"/v4/tags/{tag}/registration_ids/{rid}", headers=el_headers(tenant))
    assert_ok(response, {"result": result})


@pytest.mark.usefixtures("fleet")
def test_tag_membership_with_an_invalid_tag_is_400(client: TestClient, tenant: Tenant) -> None:
    response = client.get(
        f"/v4/tags/{'x' * 41}/registration_ids/{ANDROID}", headers=el_headers(tenant)
    )
    assert_error(response, 400, INVALID)


# --- GET and DELETE /v4/aliases/{alias} ---------------------------------------------------


@pytest.mark.usefixtures("fleet")
def test_alias_lookup_names_the_one_device_holding_it(client: TestClient, tenant: Tenant) -> None:
    response = client.get("/v4/aliases/ann", headers=el_headers(tenant))
    assert_ok(response, {"registration_ids": [ANDROID]})


@pytest.mark.usefixtures("fleet")
def test_alias_lookup_of_an_unbound_alias_is_an_empty_list(
    client: TestClient, tenant: Tenant
) -> None:
    assert_ok(
        client.get("/v4/aliases/nobody", headers=el_headers(tenant)), {"registration_ids": []}
    )


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("?platform=android", [ANDROID]),
        ("?platform=ios", []),
        ("?platform=ios,android", [ANDROID]),
        ("?platform=ios&platform=android", [ANDROID]),
        ("?platform=", [ANDROID]),
    ],
)
@pytest.mark.usefixtures("fleet")
def test_alias_lookup_by_platform(
    client: TestClient, tenant: Tenant, query: str, expected: list[str]
) -> None:
    response = client.get(f"/v4/aliases/ann{query}", headers=el_headers(tenant))
    assert_ok(response, {"registration_ids": expected})


@pytest.mark.usefixtures("fleet")
def test_alias_delete_unbinds_it_and_keeps_the_device(client: TestClient, tenant: Tenant) -> None:
    assert_ok(client.delete("/v4/aliases/ann", headers=el_headers(tenant)), {})
    assert alias_ids(client, tenant, "ann") == []
    assert get_device(client, tenant, ANDROID) == {"tags": ["news", "sale"], "alias": ""}
    assert alias_ids(client, tenant, "ian") == [IOS]


@pytest.mark.usefixtures("fleet")
def test_alias_delete_for_another_platform_keeps_the_binding(
    client: TestClient, tenant: Tenant, container: Container
) -> None:
    before = snapshot(container)
    assert_ok(client.delete("/v4/aliases/ann?platform=ios,web", headers=el_headers(tenant)), {})
    assert snapshot(container) == before
    assert alias_ids(client, tenant, "ann") == [ANDROID]


@pytest.mark.usefixtures("fleet")
def test_alias_delete_for_the_devices_platform_unbinds_it(
    client: TestClient, tenant: Tenant
) -> None:
    assert_ok(client.delete("/v4/aliases/ann?platform=android", headers=el_headers(tenant)), {})
    assert alias_ids(client, tenant, "ann") == []


@pytest.mark.usefixtures("fleet")
def test_alias_delete_of_an_unbound_alias_is_a_harmless_200(
    client: TestClient, tenant: Tenant, container: Container
) -> None:
    before = snapshot(container)
    assert_ok(client.delete("/v4/aliases/nobody", headers=el_headers(tenant)), {})
    assert snapshot(container) == before


@pytest.mark.usefixtures("fleet")
def test_an_unbound_alias_can_be_bound_again(client: TestClient, tenant: Tenant) -> None:
    assert_ok(client.delete("/v4/aliases/ann", headers=el_headers(tenant)), {})
    set_device(client, tenant, WEB, alias="ann")
    assert alias_ids(client, tenant, "ann") == [WEB]


@pytest.mark.parametrize("method", ["GET", "DELETE"])
@pytest.mark.parametrize(
    "path",
    [f"/v4/aliases/{'x' * 41}", "/v4/aliases/a%20b", "/v4/aliases/ann?platform=windows"],
    ids=["41-bytes", "space", "unknown-platform"],
)
@pytest.mark.usefixtures("fleet")
def test_alias_endpoints_refuse_invalid_input_with_400_and_change_nothing(
    client: TestClient, tenant: Tenant, container: Container, method: str, path: str
) -> None:
    before = snapshot(container)
    response = client.request(method, path, headers=el_headers(tenant))
    assert_error(response, 400, INVALID)
    assert snapshot(container) == before
