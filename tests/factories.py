"""Builders for request bodies and service inputs."""

from __future__ import annotations

import secrets
from typing import Any


def uid(prefix: str = "u") -> str:
    return f"{prefix}-{secrets.token_hex(5)}"


def gainsight_user(identify_id: str | None = None, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "identifyId": identify_id or uid(),
        "propertyKeys": ["AP-TEST-1"],
        "email": "person@example.com",
        "firstName": "Ada",
        "lastName": "Lovelace",
    }
    body.update(fields)
    return body


def gainsight_event(identify_id: str, name: str = "clicked", **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "eventName": name,
        "identifyId": identify_id,
        "propertyKey": "AP-TEST-1",
        "userType": "USER",
        "date": 1_700_000_000_000,
        "attributes": {"button": "save"},
    }
    body.update(fields)
    return body


def gainsight_error(status: str, message: str) -> dict[str, Any]:
    """Gainsight's error envelope, whole: status and message, no debug message or sub-errors."""
    return {
        "externalapierror": {
            "status": status,
            "message": message,
            "debugMessage": None,
            "subErrors": None,
        }
    }


def gainsight_not_found(identify_id: str) -> dict[str, Any]:
    return gainsight_error("NOT_FOUND", f"User was not found for parameters {{id={identify_id}}}")
