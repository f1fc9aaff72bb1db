"""Between Gainsight PX's wire shapes and Obliviate's profiles, events and cursors."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from typing import Any, TypeVar

import orjson
import pydantic

from obliviate.domain.errors import ValidationError
from obliviate.domain.events import INT64_MAX, INT64_MIN, NewEvent
from obliviate.http.gainsight.query import Position, SortKey, valid_normal
from obliviate.http.gainsight.schemas import CustomEventIn, UserIn
from obliviate.services.events import EventView
from obliviate.services.profiles import ProfileView

M = TypeVar("M", bound=pydantic.BaseModel)

# What a delete answers (Spring's ResponseEntity, as the vendor serialises it).
DELETED = {"body": {}, "statusCode": "200", "statusCodeValue": 200}
MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 25

# The full user object: every field is present in answers, empty ones as "", 0 or null.
STRING_FIELDS = (
    "type",
    "gender",
    "email",
    "firstName",
    "lastName",
    "title",
    "phone",
    "role",
    "subscriptionId",
    "accountId",
    "sfdcContactId",
)
NUMBER_FIELDS = ("signUpDate", "firstVisitDate", "score")


def parse_model(model: type[M], data: Any) -> M:
    if not isinstance(data, dict):
        raise ValidationError("body", "must be a JSON object")
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "body"
        raise ValidationError(field, first["msg"]) from None


def attributes_from_user(user: UserIn) -> dict[str, Any]:
    """Only the fields the client sent, so an update keeps what it left out."""
    sent = user.model_dump(include=user.model_fields_set - {"identifyId"})
    if "customAttributes" in sent:
        sent["custom"] = sent.pop("customAttributes")
    if "location" in sent and sent["location"] is not None:
        sent["location"] = {k: v for k, v in sent["location"].items() if v is not None}
    return sent


def validate_new_user(user: UserIn) -> str:
    if not user.identifyId:
        raise ValidationError("identifyId", "is required")
    if not user.propertyKeys or not all(isinstance(k, str) and k for k in user.propertyKeys):
        raise ValidationError("propertyKeys", "at least one property key is required")
    return user.identifyId


def _typed(value: Any, kind: type, empty: Any) -> Any:
    """Another surface may have stored any JSON under a Gainsight field's name (an Insider
    attribute ``score: "high"``): answer it only when it has the type Gainsight gives it."""
    return value if isinstance(value, kind) else empty


def user_to_wire(view: ProfileView) -> dict[str, Any]:
    attrs = view.profile.attributes
    user: dict[str, Any] = {
        "aptrinsicId": format(view.profile.profile_id, "x"),
        "identifyId": view.uuid,
    }
    for name in STRING_FIELDS:
        user[name] = _typed(attrs.get(name), str, "")
    if not user["type"]:
        user["type"] = "USER"
    for name in NUMBER_FIELDS:
        number = attrs.get(name)
        user[name] = number if isinstance(number, int) and not isinstance(number, bool) else 0
    keys = _typed(attrs.get("propertyKeys"), list, [])
    user.update(
        lastSeenDate=0,
        numberOfVisits=0,
        location=_typed(attrs.get("location"), dict, None),
        propertyKeys=[key for key in keys if isinstance(key, str)],
        createDate=view.profile.created_at,
        lastModifiedDate=view.profile.updated_at,
        customAttributes=_typed(attrs.get("custom"), dict, None),
        globalUnsubscribe=bool(attrs.get("globalUnsubscribe", False)),
        id=view.uuid,
    )
    return user


def event_from_wire(body: CustomEventIn, now: int) -> NewEvent:
    context: dict[str, Any] = {"propertyKey": body.propertyKey, "userType": body.userType}
    if body.accountId is not None:
        context["accountId"] = body.accountId
    if body.globalContext is not None:
        context["globalContext"] = body.globalContext
    return NewEvent(
        name=body.eventName,
        occurred_at=body.date if body.date is not None else now,
        properties=body.attributes or {},
        context=context,
    )


def event_to_wire(view: EventView) -> dict[str, Any]:
    event = view.event
    return {
        "eventId": format(event.event_id, "x"),
        "eventName": event.name,
        "identifyId": view.uuid,
        "propertyKey": event.context.get("propertyKey", ""),
        "userType": event.context.get("userType", "USER"),
        "accountId": event.context.get("accountId"),
        "date": event.occurred_at,
        "attributes": event.properties,
        "globalContext": event.context.get("globalContext"),
    }


def query_value(params: Any, name: str) -> str | None:
    """Empty query parameters count as absent."""
    value = params.get(name)
    return value if value else None


def query_values(params: Any, name: str) -> list[str]:
    """A repeatable parameter's non-empty values."""
    return [value for value in params.getlist(name) if value]


def list_state(params: Any) -> dict[str, Any]:
    """What a list call asks for: its filters (``q``), sort (``o``), page size (``n``) and
    where the previous page ended (``k``), from the query or from the scroll id that carries
    them, so that later pages may send the scroll id alone."""
    scroll = query_value(params, "scrollId")
    size = page_size(query_value(params, "pageSize"))
    if scroll is not None:
        state = decode_cursor(scroll)
    else:
        state = {"q": query_values(params, "filter"), "o": query_value(params, "sort")}
    state.setdefault("q", [])
    state.setdefault("o", None)
    state.setdefault("k", None)
    state["n"] = size or state.get("n") or DEFAULT_PAGE_SIZE
    return state


def scroll_key(place: Position) -> list[Any]:
    return [*place.values, place.tie]


def scroll_position(raw: Any, sort: Sequence[SortKey], *, tie: type) -> Position | None:
    """The position a scroll id carries, checked against the sort it was issued for."""
    if raw is None:
        return None
    if (
        isinstance(raw, list)
        and len(raw) == len(sort) + 1
        and all(valid_normal(item) for item in raw[:-1])
        and isinstance(raw[-1], tie)
        and not isinstance(raw[-1], bool)
        and (not isinstance(raw[-1], int) or _int64(raw[-1]))
    ):
        return Position(tuple(raw[:-1]), raw[-1])
    raise ValidationError("scrollId", "is not a scroll id this server issued")


def page_size(raw: str | None) -> int | None:
    if raw is None:
        return None
    try:
        size = int(raw)
    except ValueError:
        raise ValidationError("pageSize", "must be an integer") from None
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise ValidationError("pageSize", f"must be between 1 and {MAX_PAGE_SIZE}")
    return size


def encode_cursor(state: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(state)).decode().rstrip("=")


def decode_cursor(raw: str) -> dict[str, Any]:
    try:
        padded = raw + "=" * (-len(raw) % 4)
        state = orjson.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, orjson.JSONDecodeError):
        raise ValidationError("scrollId", "is not a scroll id this server issued") from None
    if not isinstance(state, dict) or not _cursor_fields_valid(state):
        raise ValidationError("scrollId", "is not a scroll id this server issued")
    return state


def _int64(value: Any) -> bool:
    return isinstance(value, int) and INT64_MIN <= value <= INT64_MAX


def _cursor_fields_valid(state: dict[str, Any]) -> bool:
    """A scroll id is the client's to send back, so any JSON may come in its place: each field
    must have the type this server writes before it reaches a query."""
    after = state.get("a")
    after_parts = after if isinstance(after, list) and len(after) == 2 else [after]
    return (
        (state.get("f") is None or isinstance(state["f"], str))
        and (state.get("o") is None or isinstance(state["o"], str))
        and (
            state.get("q") is None
            or (isinstance(state["q"], list) and all(isinstance(q, str) for q in state["q"]))
        )
        and all(state.get(key) is None or _int64(state[key]) for key in ("s", "e"))
        and (state.get("n") is None or (_int64(state["n"]) and 1 <= state["n"] <= MAX_PAGE_SIZE))
        and (after is None or all(_int64(part) for part in after_parts))
    )
