"""Between Insider's wire shapes and identifiers, attributes and events."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from obliviate.domain.errors import ValidationError
from obliviate.domain.events import INT64_MAX, INT64_MIN, NewEvent
from obliviate.domain.free_form import check_free_form
from obliviate.domain.identifiers import Identifier, custom_type, identifier
from obliviate.domain.profiles import Profile

MAX_USERS = 1000
DEFAULT_TYPES = ("uuid", "email", "phone_number")


def _object(value: Any, field: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValidationError(field, "must be an object")
    return value


def identifiers(value: Any, field: str = "identifiers") -> list[Identifier]:
    """``{"uuid"|"email"|"phone_number": v, "custom": {name: v}}`` into identifiers."""
    data = _object(value, field)
    found: list[Identifier] = []
    for key, raw in data.items():
        if key == "custom":
            for name, custom_value in _object(raw, f"{field}.custom").items():
                found.append(
                    identifier(custom_type(str(name)), custom_value, field=f"{field}.custom.{name}")
                )
        elif key in DEFAULT_TYPES:
            found.append(identifier(key, raw, field=f"{field}.{key}"))
        else:
            raise ValidationError(f"{field}.{key}", "is not an identifier type")
    if not found:
        raise ValidationError(field, "must hold at least one identifier")
    return found


def one_identifier(value: Any, field: str = "identifiers") -> Identifier:
    found = identifiers(value, field)
    if len(found) != 1:
        raise ValidationError(field, "must hold exactly one identifier")
    return found[0]


def attributes(value: Any, field: str = "attributes") -> dict[str, Any]:
    if value is None:
        return {}
    data = _object(value, field)
    if "custom" in data and not isinstance(data["custom"], dict):
        raise ValidationError(f"{field}.custom", "must be an object")
    return dict(data)


def _timestamp(value: Any, field: str) -> int:
    if not isinstance(value, str):
        raise ValidationError(field, "must be an RFC 3339 date-time string")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValidationError(field, "must be an RFC 3339 date-time string") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def events(value: Any, field: str = "events") -> list[NewEvent]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValidationError(field, "must be an array")
    parsed: list[NewEvent] = []
    for i, raw in enumerate(value):
        item = _object(raw, f"{field}.{i}")
        name = item.get("event_name")
        if not isinstance(name, str) or not name or len(name) > 255:
            raise ValidationError(f"{field}.{i}.event_name", "must be a non-empty string")
        params = item.get("event_params") or {}
        if not isinstance(params, dict):
            raise ValidationError(f"{field}.{i}.event_params", "must be an object")
        occurred = _timestamp(item.get("timestamp"), f"{field}.{i}.timestamp")
        parsed.append(NewEvent(name, occurred, params, {"source": "insider"}))
    return parsed


def users(body: Any) -> list[Any]:
    data = _object(body, "body")
    if "users" not in data or data["users"] is None:
        raise ValidationError("users", "must be defined")
    if not isinstance(data["users"], list):
        raise ValidationError("users", "must be an array")
    if len(data["users"]) > MAX_USERS:
        raise ValidationError("users", f"must hold at most {MAX_USERS} entries")
    for i, raw in enumerate(data["users"]):
        _refuse_deep_free_form(raw, f"users.{i}")
    return list(data["users"])


def _refuse_deep_free_form(raw: Any, at: str) -> None:
    """Free-form JSON nested too deep refuses the whole request (the surface's 400,
    nothing stored), not only its user as other per-user validation failures do: the services
    check attributes again, but an event's params would otherwise count as one failed user."""
    if not isinstance(raw, dict):
        return
    check_free_form(raw.get("attributes"), field=f"{at}.attributes")
    raw_events = raw.get("events")
    if isinstance(raw_events, list):
        for j, event in enumerate(raw_events):
            if isinstance(event, dict):
                check_free_form(event.get("event_params"), field=f"{at}.events.{j}.event_params")


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat().replace("+00:00", "Z")


def epoch_seconds(value: Any, field: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(field, "must be a unix timestamp in seconds")
    if not INT64_MIN <= value * 1000 <= INT64_MAX:
        raise ValidationError(field, "must be a unix timestamp in seconds")
    return value * 1000


def profile_attributes(
    profile: Profile, held: list[tuple[str, str]], wanted: list[str] | None
) -> dict[str, Any]:
    """Attributes with the identifiers beside them; only the wanted names when given."""
    merged: dict[str, Any] = dict(profile.attributes)
    for id_type, value in held:
        if id_type in DEFAULT_TYPES:
            merged.setdefault(id_type, value)
    if wanted is None:
        return merged
    return {name: merged[name] for name in wanted if name in merged}


def outcome(successful: int, failed: int, errors: dict[str, list[str]]) -> dict[str, Any]:
    """The batch answer: counts of users that went in and failed, failures keyed by path."""
    return {
        "data": {
            "successful": {"count": successful} if successful else {},
            "fail": {"count": failed, "errors": errors} if failed else {},
        }
    }
