"""Golden wire tests for Gainsight PX accounts (``/v1/accounts``), from the vendor's published
API reference: create 201, partial update 204 with no body, get 200 with every field of the
Account object, 404 in the ``externalapierror`` envelope, delete 200 cascading to the account's
users, and lists with ``filter``, ``sort``, ``pageSize`` and ``scrollId``."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from obliviate.bootstrap import Container
from obliviate.http.gainsight.translate import encode_cursor
from tests.factories import gainsight_error
from tests.support.headers import gs_headers
from tests.support.rows import snapshot
from tests.support.tenants import Tenant
from tests.surfaces.gainsight.support import DELETED_BODY, assert_error, create_user, list_users

# Every field of Gainsight's Account object, as a GET answers it.
ACCOUNT_FIELDS = {
    "id",
    "name",
    "trackedSubscriptionId",
    "sfdcId",
    "lastSeenDate",
    "dunsNumber",
    "industry",
    "numberOfEmployees",
    "sicCode",
    "website",
    "naicsCode",
    "plan",
    "location",
    "numberOfUsers",
    "propertyKeys",
    "createDate",
    "lastModifiedDate",
    "customAttributes",
    "parentGroupId",
    "renewalDate",
    "healthScore",
    "gsId",
    "nps",
    "csm",
}


def account_body(account_id: str, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"id": account_id, "name": f"Company {account_id}"}
    body["propertyKeys"] = ["AP-TEST-1"]
    body.update(fields)
    return body


def create_account(client: TestClient, tenant: Tenant, account_id: str, **fields: Any) -> Any:
    response = client.post(
        "/v1/accounts", json=account_body(account_id, **fields), headers=gs_headers(tenant)
    )
    assert response.status_code == 201, response.text
    return response.json()


def get_account(client: TestClient, tenant: Tenant, account_id: str) -> Any:
    response = client.get(f"/v1/accounts/{account_id}", headers=gs_headers(tenant))
    assert response.status_code == 200, response.text
    return response.json()


def list_accounts(client: TestClient, tenant: Tenant, **params: str) -> Any:
    response = client.get("/v1/accounts", params=params, headers=gs_headers(tenant))
    assert response.status_code == 200, response.text
    return response.json()


def test_a_created_account_answers_every_field_with_the_documented_defaults(
    client: TestClient, tenant: Tenant
) -> None:
    created = create_account(client, tenant, "acme", industry="Rockets", numberOfEmployees=40)
    assert set(created) == ACCOUNT_FIELDS
    assert created["id"] == "acme"
    assert created["name"] == "Company acme"
    assert created["industry"] == "Rockets"
    assert created["numberOfEmployees"] == 40
    assert created["propertyKeys"] == ["AP-TEST-1"]
    assert created["numberOfUsers"] == 0
    assert created["website"] == ""
    assert created["renewalDate"] == 0
    assert created["nps"] == 0.0
    assert created["customAttributes"] is None
    assert created["location"] is None
    assert created["createDate"] == created["lastModifiedDate"] > 0
    assert get_account(client, tenant, "acme") == created


@pytest.mark.parametrize(
    ("missing", "field"), [("id", "id"), ("name", "name"), ("propertyKeys", "propertyKeys")]
)
def test_create_without_a_required_field_is_a_bad_request_and_stores_nothing(
    client: TestClient, container: Container, tenant: Tenant, missing: str, field: str
) -> None:
    body = account_body("incomplete")
    del body[missing]
    before = snapshot(container)
    response = client.post("/v1/accounts", json=body, headers=gs_headers(tenant))
    assert_error(response, 400, "BAD_REQUEST")
    assert field in response.json()["externalapierror"]["message"]
    assert snapshot(container) == before


def test_creating_an_existing_account_is_a_possible_duplicate(
    client: TestClient, tenant: Tenant
) -> None:
    create_account(client, tenant, "dup")
    response = client.post(
        "/v1/accounts", json=account_body("dup", name="Other"), headers=gs_headers(tenant)
    )
    assert response.json() == gainsight_error(
        "BAD_REQUEST", "Account with id dup already exists, possible duplicate"
    )
    assert response.status_code == 400
    assert get_account(client, tenant, "dup")["name"] == "Company dup"


def test_an_unknown_account_is_not_found_in_the_gainsight_envelope(
    client: TestClient, tenant: Tenant
) -> None:
    for response in (
        client.get("/v1/accounts/nobody", headers=gs_headers(tenant)),
        client.put("/v1/accounts/nobody", json={"name": "x"}, headers=gs_headers(tenant)),
        client.delete("/v1/accounts/nobody", headers=gs_headers(tenant)),
    ):
        assert response.status_code == 404
        assert response.json() == gainsight_error(
            "NOT_FOUND", "Account was not found for parameters {id=nobody}"
        )


def test_put_is_a_partial_update_answered_204_with_no_body(
    client: TestClient, tenant: Tenant
) -> None:
    create_account(
        client, tenant, "partial", plan="gold", customAttributes={"tier": 1, "region": "eu"}
    )
    response = client.put(
        "/v1/accounts/partial",
        json={"plan": "platinum", "customAttributes": {"tier": 2}},
        headers=gs_headers(tenant),
    )
    assert response.status_code == 204
    assert response.content == b""
    after = get_account(client, tenant, "partial")
    assert after["plan"] == "platinum"
    assert after["name"] == "Company partial"
    assert after["customAttributes"] == {"tier": 2, "region": "eu"}
    assert after["lastModifiedDate"] >= after["createDate"]


def test_put_update_takes_the_account_id_from_the_body(client: TestClient, tenant: Tenant) -> None:
    create_account(client, tenant, "needs/escaping")
    response = client.put(
        "/v1/accounts/update",
        json={"id": "needs/escaping", "industry": "Shipping"},
        headers=gs_headers(tenant),
    )
    assert response.status_code == 204
    assert get_account(client, tenant, "needs%2Fescaping")["industry"] == "Shipping"


def test_ids_are_case_sensitive_on_get(client: TestClient, tenant: Tenant) -> None:
    create_account(client, tenant, "CaseCo")
    response = client.get("/v1/accounts/caseco", headers=gs_headers(tenant))
    assert response.status_code == 404


def test_users_link_to_their_account_and_are_counted(client: TestClient, tenant: Tenant) -> None:
    create_account(client, tenant, "linked")
    create_user(client, tenant, "member-1", accountId="linked")
    create_user(client, tenant, "member-2", accountId="linked")
    create_user(client, tenant, "outsider", accountId="elsewhere")
    assert get_account(client, tenant, "linked")["numberOfUsers"] == 2
    # RudderStack's group call: a PUT of the user with only its accountId.
    response = client.put(
        "/v1/users/outsider", json={"accountId": "linked"}, headers=gs_headers(tenant)
    )
    assert response.status_code == 204
    assert get_account(client, tenant, "linked")["numberOfUsers"] == 3
    client.delete("/v1/users/member-1", headers=gs_headers(tenant))
    assert get_account(client, tenant, "linked")["numberOfUsers"] == 2


def test_delete_removes_the_account_and_soft_deletes_its_users(
    client: TestClient, tenant: Tenant
) -> None:
    create_account(client, tenant, "doomed")
    create_user(client, tenant, "doomed-1", accountId="doomed")
    create_user(client, tenant, "doomed-2", accountId="doomed")
    survivor = create_user(client, tenant, "bystander", accountId="other")
    response = client.delete("/v1/accounts/doomed", headers=gs_headers(tenant))
    assert response.status_code == 200
    assert response.json() == DELETED_BODY
    assert client.get("/v1/accounts/doomed", headers=gs_headers(tenant)).status_code == 404
    for gone in ("doomed-1", "doomed-2"):
        assert client.get(f"/v1/users/{gone}", headers=gs_headers(tenant)).status_code == 404
    assert list_users(client, tenant)["users"] == [survivor]


def test_delete_of_a_big_account_passes_the_mass_deletion_guard_only_when_confirmed(
    client: TestClient, container: Container, tenant: Tenant
) -> None:
    create_account(client, tenant, "huge")
    # The guard allows at least its floor of deletions an hour: a bigger account needs a yes.
    floor = 100
    for n in range(floor + 1):
        create_user(client, tenant, f"huge-{n}", accountId="huge")
    before = snapshot(container)
    refused = client.delete("/v1/accounts/huge", headers=gs_headers(tenant))
    assert_error(refused, 409, "CONFLICT")
    assert "mass-deletion guard" in refused.json()["externalapierror"]["message"]
    assert snapshot(container) == before
    confirmed = client.delete(
        "/v1/accounts/huge",
        headers={**gs_headers(tenant), "X-Obliviate-Confirm-Mass-Delete": "yes"},
    )
    assert confirmed.status_code == 200
    assert list_users(client, tenant)["totalHits"] == 0


def test_accounts_list_has_the_documented_shape_and_walks_every_account_once(
    client: TestClient, tenant: Tenant
) -> None:
    empty = list_accounts(client, tenant)
    assert set(empty) == {"accounts", "totalHits", "scrollId"}
    assert empty["accounts"] == []
    assert empty["totalHits"] == 0
    made = {create_account(client, tenant, f"walk-{n}")["id"] for n in range(7)}
    first = list_accounts(client, tenant, pageSize="3")
    seen = [a["id"] for a in first["accounts"]]
    assert first["totalHits"] == 7
    scroll, size = first["scrollId"], len(first["accounts"])
    while size == 3:
        page = list_accounts(client, tenant, scrollId=scroll)
        seen += [a["id"] for a in page["accounts"]]
        scroll, size = page["scrollId"], len(page["accounts"])
    assert sorted(seen) == sorted(made)
    assert len(seen) == len(set(seen))
    assert all(set(a) == ACCOUNT_FIELDS for a in first["accounts"])


def test_accounts_filter_with_and_or_and_comparison_operators(
    client: TestClient, tenant: Tenant
) -> None:
    create_account(client, tenant, "a1", sicCode="64", numberOfEmployees=30)
    create_account(client, tenant, "a2", sicCode="64", numberOfEmployees=10)
    create_account(client, tenant, "a3", sicCode="63", numberOfEmployees=5000)
    create_account(client, tenant, "a4", sicCode="63", numberOfEmployees=50)
    # The reference's own example: (sicCode 64 AND > 25) OR (sicCode 63 AND > 3000).
    response = client.get(
        "/v1/accounts?filter=sicCode==64;numberOfEmployees>25"
        "&filter=sicCode==63;numberOfEmployees>3000",
        headers=gs_headers(tenant),
    )
    assert response.status_code == 200
    page = response.json()
    assert sorted(a["id"] for a in page["accounts"]) == ["a1", "a3"]
    assert page["totalHits"] == 2


def test_accounts_filter_on_custom_attributes_and_location_like_the_reference(
    client: TestClient, tenant: Tenant
) -> None:
    create_account(
        client, tenant, "pdx", location={"city": "Portland"}, customAttributes={"internalId": 12345}
    )
    create_account(client, tenant, "sea", location={"city": "Seattle"})
    by_custom = list_accounts(client, tenant, filter="customAttributes.internalId==12345")
    assert [a["id"] for a in by_custom["accounts"]] == ["pdx"]
    by_city = list_accounts(client, tenant, filter="location.city==portland")
    assert [a["id"] for a in by_city["accounts"]] == ["pdx"]
    like = list_accounts(client, tenant, filter="name~*SEA*")
    assert [a["id"] for a in like["accounts"]] == ["sea"]


def test_accounts_sort_by_name_then_descending_create_date(
    client: TestClient, tenant: Tenant
) -> None:
    for account_id, name in (("s1", "beta"), ("s2", "Alpha"), ("s3", "beta"), ("s4", "gamma")):
        create_account(client, tenant, account_id, name=name)
    page = list_accounts(client, tenant, sort="name;-createDate", pageSize="2")
    ids = [a["id"] for a in page["accounts"]]
    rest = list_accounts(client, tenant, scrollId=page["scrollId"])
    ids += [a["id"] for a in rest["accounts"]]
    assert ids == ["s2", "s3", "s1", "s4"]
    newest_first = list_accounts(client, tenant, sort="-createDate")
    assert [a["id"] for a in newest_first["accounts"]] == ["s4", "s3", "s2", "s1"]


@pytest.mark.parametrize(
    "query",
    [
        "filter=shoeSize==42",
        "filter=numberOfEmployees>many",
        "filter=createDate>=yesterday",
        "sort=shoeSize",
        "pageSize=1001",
        "pageSize=0",
        "scrollId=not-a-cursor!",
    ],
)
def test_bad_list_parameters_are_a_bad_request(
    client: TestClient, tenant: Tenant, query: str
) -> None:
    response = client.get(f"/v1/accounts?{query}", headers=gs_headers(tenant))
    assert_error(response, 400, "BAD_REQUEST")


@pytest.mark.parametrize(
    "position",
    [
        [[3, "acme"], "acme", "extra"],  # one value more than the sort has keys
        [[9, "acme"], "acme"],  # no such rank
        [[3, 5], "acme"],  # text rank holding a number
        [[3, "acme"], 7],  # an account's id is text
        "acme",
    ],
)
def test_a_scroll_id_whose_position_does_not_fit_its_sort_is_refused(
    client: TestClient, tenant: Tenant, position: Any
) -> None:
    create_account(client, tenant, "acme")
    forged = encode_cursor({"q": [], "o": "name", "n": 1, "k": position})
    response = client.get(f"/v1/accounts?scrollId={forged}", headers=gs_headers(tenant))
    assert_error(response, 400, "BAD_REQUEST")
    assert "scrollId" in response.json()["externalapierror"]["message"]


def test_rudderstacks_group_call_finds_creates_updates_and_links_an_account(
    client: TestClient, tenant: Tenant
) -> None:
    """The destination looks the account up, creates it on a NOT_FOUND envelope, updates it
    on a 200, and then sets the user's accountId: each step on the status it branches on."""
    create_user(client, tenant, "rs-user")
    headers = gs_headers(tenant)
    lookup = client.get("/v1/accounts/rs-group", headers=headers)
    assert lookup.status_code == 404
    assert lookup.json()["externalapierror"]["status"] == "NOT_FOUND"
    created = client.post(
        "/v1/accounts",
        json={"id": "rs-group", "name": "RS", "propertyKeys": ["AP-1"], "industry": "Tea"},
        headers=headers,
    )
    assert created.status_code == 201
    assert client.get("/v1/accounts/rs-group", headers=headers).status_code == 200
    updated = client.put(
        "/v1/accounts/rs-group", json={"name": "RS", "industry": "Coffee"}, headers=headers
    )
    assert (updated.status_code, updated.content) == (204, b"")
    linked = client.put("/v1/users/rs-user", json={"accountId": "rs-group"}, headers=headers)
    assert linked.status_code == 204
    account = get_account(client, tenant, "rs-group")
    assert (account["industry"], account["numberOfUsers"]) == ("Coffee", 1)
    user = client.get("/v1/users/rs-user", headers=headers).json()
    assert user["accountId"] == "rs-group"
