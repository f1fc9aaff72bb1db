"""Gainsight PX requests the benchmark sends."""

from __future__ import annotations

import orjson

from loadgen import build_request

API_KEY_HEADER = {"X-APTRINSIC-API-KEY": "demo-gainsight-key"}
# The delete rows remove far more than the mass-deletion guard's hourly share of the tenant's
# profiles, so they confirm the burst, as a bulk clean-up would.
DELETE_HEADERS = API_KEY_HEADER | {"X-Obliviate-Confirm-Mass-Delete": "yes"}


def user_body(identify_id: str) -> bytes:
    return orjson.dumps(
        {
            "identifyId": identify_id,
            "propertyKeys": ["AP-BENCH-1"],
            "email": f"{identify_id}@example.com",
            "firstName": "Ada",
            "lastName": "Lovelace",
            "signUpDate": 1_700_000_000_000,
            "customAttributes": {"plan": "pro", "seats": 5},
        }
    )


def user_create(host: str, identify_id: str) -> bytes:
    return build_request(
        "POST", "/v1/users", host, headers=API_KEY_HEADER, body=user_body(identify_id)
    )


def user_get(host: str, identify_id: str) -> bytes:
    return build_request("GET", f"/v1/users/{identify_id}", host, headers=API_KEY_HEADER)


def user_soft_delete(host: str, identify_id: str) -> bytes:
    return build_request("DELETE", f"/v1/users/{identify_id}", host, headers=DELETE_HEADERS)


def user_hard_delete(host: str, identify_id: str) -> bytes:
    return build_request(
        "DELETE", f"/v1/users/{identify_id}?hardDelete=true", host, headers=DELETE_HEADERS
    )
