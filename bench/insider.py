"""Insider requests the benchmark sends, and the checks its answers must pass."""

from __future__ import annotations

from typing import Any

import orjson

from loadgen import ResponseHook, build_request
from report import BodyCheck

INSIDER_HEADERS = {"X-PARTNER-NAME": "demo", "X-REQUEST-TOKEN": "demo-request-token"}
INSIDER_EVENT = "bench_event"
INSIDER_EVENT_TIME = "2026-01-02T03:04:05Z"
# The profile row asks for events between these (unix seconds), which hold INSIDER_EVENT_TIME.
INSIDER_EVENTS_FROM, INSIDER_EVENTS_TO = 1_767_225_600, 1_767_398_400


def insider_user(uuid: str) -> dict[str, Any]:
    """One Insider upsert user: uuid and email identifiers, a few attributes, one event."""
    return {
        "identifiers": {"uuid": uuid, "email": f"{uuid}@example.com"},
        "attributes": {
            "name": "Ada",
            "surname": "Lovelace",
            "email_optin": True,
            "custom": {"plan": "pro", "seats": 5},
        },
        "events": [
            {
                "event_name": INSIDER_EVENT,
                "timestamp": INSIDER_EVENT_TIME,
                "event_params": {"source": "bench", "value": 3},
            }
        ],
    }


def insider_upsert(host: str, uuids: list[str]) -> bytes:
    body = orjson.dumps({"users": [insider_user(u) for u in uuids]})
    return build_request("POST", "/api/user/v1/upsert", host, headers=INSIDER_HEADERS, body=body)


def insider_profile(host: str, uuid: str) -> bytes:
    body = orjson.dumps(
        {
            "identifiers": {"uuid": uuid},
            "attributes": ["name", "surname", "email", "custom"],
            "events": {
                "start_date": INSIDER_EVENTS_FROM,
                "end_date": INSIDER_EVENTS_TO,
                "wanted": [{"event_name": INSIDER_EVENT, "params": ["source", "value"]}],
            },
        }
    )
    return build_request("POST", "/api/user/v1/profile", host, headers=INSIDER_HEADERS, body=body)


def insider_identity_delete(host: str, uuid: str) -> bytes:
    body = orjson.dumps({"identifiers": {"email": f"{uuid}@example.com"}})
    return build_request(
        "DELETE", "/api/user/v1/identity", host, headers=INSIDER_HEADERS, body=body
    )


def upsert_counts(body: bytes) -> tuple[int, int] | None:
    """(successful, failed) user counts of an Insider upsert answer; None if it is not one."""
    try:
        data = orjson.loads(body)["data"]
        return int(data["successful"].get("count", 0)), int(data["fail"].get("count", 0))
    except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError, ValueError):
        return None


def upsert_check(users_per_request: int) -> tuple[BodyCheck, ResponseHook]:
    """Adds up the users each 2xx upsert answer reports as successful and failed."""
    check = BodyCheck(users_per_request=users_per_request)

    def hook(_request: bytes, status: int, body: bytes) -> None:
        if not 200 <= status < 300:
            return
        counts = upsert_counts(body)
        if counts is None or sum(counts) != users_per_request:
            check.bad_body(body)
            return
        check.users_ok += counts[0]
        check.users_failed += counts[1]

    return check, hook


def profile_check() -> tuple[BodyCheck, ResponseHook]:
    """Each answer must carry the preloaded attributes and exactly the one stored event."""
    check = BodyCheck()

    def hook(_request: bytes, status: int, body: bytes) -> None:
        if not 200 <= status < 300:
            return
        try:
            data = orjson.loads(body)
            ok = (
                data["attributes"]["name"] == "Ada"
                and data["attributes"]["email"].endswith("@example.com")
                and len(data["events"][INSIDER_EVENT]) == 1
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError):
            ok = False
        if not ok:
            check.bad_body(body)

    return check, hook


def exact_body_check(expected: bytes) -> tuple[BodyCheck, ResponseHook]:
    check = BodyCheck()

    def hook(_request: bytes, status: int, body: bytes) -> None:
        if 200 <= status < 300 and body != expected:
            check.bad_body(body)

    return check, hook


def upsert_accepted(body: bytes) -> bool:
    counts = upsert_counts(body)
    return counts is not None and counts[1] == 0
