"""Between EngageLab's wire shapes and Obliviate's device services."""

from __future__ import annotations

import base64
import binascii
import time
from typing import Any

from starlette.datastructures import QueryParams

from obliviate.domain.devices import Device, validate_id_batch, validate_platform
from obliviate.domain.errors import AuthenticationError, MissingCredentials, ValidationError
from obliviate.services.devices import DeviceChange


def basic_credentials(header: str | None) -> tuple[str, str]:
    """``Basic base64(app_key:master_secret)`` into its two halves."""
    if not header:
        raise MissingCredentials()
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded.strip():
        raise MissingCredentials()
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise AuthenticationError("malformed Basic credentials") from None
    app_key, sep, secret = decoded.partition(":")
    if not sep or not app_key or not secret:
        raise AuthenticationError("malformed Basic credentials")
    return app_key, secret


def _object(body: Any) -> dict[str, Any]:
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise ValidationError("body", "must be a JSON object")
    return body


def _string_list(value: Any, field: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValidationError(field, "must be an array of strings")
    return list(value)


def device_change(body: Any) -> DeviceChange:
    """``{"tags": {"add","remove"} | "", "alias": "..."}``; "" clears tags or unbinds."""
    data = _object(body)
    tags = data.get("tags")
    alias = data.get("alias")
    if alias is not None and not isinstance(alias, str):
        raise ValidationError("alias", "must be a string")
    if tags is None:
        return DeviceChange(alias=alias)
    if tags == "":
        return DeviceChange(clear_tags=True, alias=alias)
    if not isinstance(tags, dict):
        raise ValidationError("tags", 'must be an object with "add"/"remove" or ""')
    return DeviceChange(
        add=_string_list(tags.get("add"), "tags.add"),
        remove=_string_list(tags.get("remove"), "tags.remove"),
        alias=alias,
    )


def registration_ids(body: Any) -> list[str]:
    data = _object(body)
    if "registration_ids" not in data:
        raise ValidationError("registration_ids", "is required")
    return validate_id_batch(data["registration_ids"], "registration_ids")


def tag_membership(body: Any) -> tuple[list[str], list[str]]:
    data = _object(body)
    ids = data.get("registration_ids")
    if not isinstance(ids, dict):
        raise ValidationError("registration_ids", 'must be an object with "add"/"remove"')
    return (
        validate_id_batch(ids.get("add"), "registration_ids.add"),
        validate_id_batch(ids.get("remove"), "registration_ids.remove"),
    )


def multi_value(params: QueryParams, name: str) -> list[str]:
    """Both forms the SDKs send: ``name=a&name=b`` and ``name=a,b``."""
    values: list[str] = []
    for raw in params.getlist(name):
        values.extend(part.strip() for part in raw.split(",") if part.strip())
    return list(dict.fromkeys(values))


def platforms(params: QueryParams) -> list[str]:
    return [validate_platform(p) for p in multi_value(params, "platform")]


def status_entry(device: Device) -> dict[str, Any]:
    # Obliviate keeps no push connections, so no device is ever online.
    seen = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(device.updated_at / 1000))
    return {"regid": device.registration_id, "online": False, "last_online_time": seen}
