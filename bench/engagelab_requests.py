"""EngageLab requests the benchmark sends."""

from __future__ import annotations

import base64

import orjson

from loadgen import build_request

BASIC_AUTH_HEADER = {
    "Authorization": "Basic " + base64.b64encode(b"demo-app-key:demo-master-secret").decode()
}
# Device deletes count against their own mass-deletion allowance, like the others.
DELETE_HEADERS = BASIC_AUTH_HEADER | {"X-Obliviate-Confirm-Mass-Delete": "yes"}
DEVICE_TAGS = ["bench", "plan_pro", "region_eu"]


def device_body(registration_id: str) -> bytes:
    """EngageLab set-device body: three tags added and an alias unique to the device."""
    alias = registration_id.replace("-", "_")
    return orjson.dumps({"tags": {"add": DEVICE_TAGS}, "alias": alias})


def device_set(host: str, registration_id: str) -> bytes:
    return build_request(
        "POST",
        f"/v4/devices/{registration_id}",
        host,
        headers=BASIC_AUTH_HEADER,
        body=device_body(registration_id),
    )


def device_get(host: str, registration_id: str) -> bytes:
    return build_request("GET", f"/v4/devices/{registration_id}", host, headers=BASIC_AUTH_HEADER)


def device_delete(host: str, registration_id: str) -> bytes:
    return build_request("DELETE", f"/v4/devices/{registration_id}", host, headers=DELETE_HEADERS)
