"""The components of the Gainsight OpenAPI document: request bodies from the pydantic models the
routes parse, and the wire objects the routes answer (users, accounts, events, pages, errors)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from obliviate.http.apidoc import Schema, model_schema, ref
from obliviate.http.gainsight import accounts as account_wire
from obliviate.http.gainsight import catalog
from obliviate.http.gainsight import translate as tr
from obliviate.http.gainsight.schemas import AccountIn, CustomEventIn, IdentifyIdBody, UserIn

STRING = {"type": "string"}
INTEGER = {"type": "integer"}
_NULLABLE_OBJECT = {"type": ["object", "null"]}
# The user fields the wire carries: those a client sets, and two the server fills in.
_STRING_FIELDS = tr.STRING_FIELDS
_NUMBER_FIELDS = (*tr.NUMBER_FIELDS, "lastSeenDate", "numberOfVisits")


def _every_field_required(properties: dict[str, Any]) -> Schema:
    """An answer object: the server always writes every field, so every one is required."""
    return {"type": "object", "required": list(properties), "properties": properties}


def _creating(
    components: dict[str, Schema],
    model: type[BaseModel],
    title: str,
    required: dict[str, Schema],
) -> Schema:
    """The create body: the update model's schema with ``required`` fields mandatory (and their
    schemas tightened), since an update names its subject some other way."""
    found = dict(components[model.__name__])
    found["title"] = title
    found["required"] = list(required)
    found["properties"] = {**found["properties"], **required}
    return found


def _page(key: str, item: str) -> Schema:
    return {
        "type": "object",
        "required": [key, "totalHits", "scrollId"],
        "properties": {
            key: {"type": "array", "items": ref(item)},
            "totalHits": {"type": "integer", "minimum": 0},
            "scrollId": {"type": "string", "description": "pass back alone for the next page"},
        },
    }


def _user() -> Schema:
    return _every_field_required(
        {
            "aptrinsicId": STRING,
            "identifyId": STRING,
            **dict.fromkeys(_STRING_FIELDS, STRING),
            **dict.fromkeys(_NUMBER_FIELDS, INTEGER),
            "location": _NULLABLE_OBJECT,
            "propertyKeys": {"type": "array", "items": STRING},
            "createDate": INTEGER,
            "lastModifiedDate": INTEGER,
            "customAttributes": _NULLABLE_OBJECT,
            "globalUnsubscribe": {"type": "boolean"},
            "id": STRING,
        }
    )


def _event() -> Schema:
    return _every_field_required(
        {
            "eventId": STRING,
            "eventName": STRING,
            "identifyId": STRING,
            "propertyKey": STRING,
            "userType": STRING,
            "accountId": {"type": ["string", "null"]},
            "date": INTEGER,
            "attributes": {"type": "object"},
            "globalContext": _NULLABLE_OBJECT,
        }
    )


def _account() -> Schema:
    return _every_field_required(
        {
            "id": STRING,
            **dict.fromkeys(account_wire.STRING_FIELDS, STRING),
            **dict.fromkeys(account_wire.INTEGER_FIELDS, INTEGER),
            "nps": {"type": "number"},
            "location": _NULLABLE_OBJECT,
            "numberOfUsers": {"type": "integer", "minimum": 0},
            "propertyKeys": {"type": "array", "items": STRING},
            "createDate": INTEGER,
            "lastModifiedDate": INTEGER,
            "customAttributes": _NULLABLE_OBJECT,
        }
    )


def _attribute_metadata() -> Schema:
    return _every_field_required(
        {
            **dict.fromkeys(
                ("id", "name", "apiName", "internalName", "description", "defaultValue"), STRING
            ),
            "type": {"enum": ["STRING", "DATE_TIME", "BOOLEAN", "NUMBER"]},
            "state": {"enum": ["ENABLED", "DISABLED", "DELETED"]},
            "origin": {"enum": ["CUSTOM", "DEFAULT"]},
            "createdDate": INTEGER,
            "modifiedDate": INTEGER,
        }
    )


def _empty_lists() -> dict[str, Schema]:
    """The page-numbered lists and event histories, which always answer empty."""
    numbered = {
        f"{spec.key}Page": {
            "type": "object",
            "required": [spec.key, "pageNumber", "isLastPage"],
            "properties": {
                spec.key: {"type": "array", "maxItems": 0, "description": "none are held"},
                "pageNumber": {"type": "integer", "minimum": 0},
                "isLastPage": {"type": "boolean"},
            },
        }
        for spec in catalog.CONTENT_LISTS
    }
    histories = {
        f"{spec.key}History": {
            "type": "object",
            "required": [spec.key, "totalHits", "scrollId"],
            "properties": {
                spec.key: {"type": "array", "maxItems": 0, "description": "none are recorded"},
                "totalHits": {"const": 0},
                "scrollId": STRING,
            },
        }
        for spec in catalog.EVENT_HISTORIES
    }
    return {**numbered, **histories}


_DELETED = {
    "type": "object",
    "required": ["body", "statusCode", "statusCodeValue"],
    "properties": {
        "body": {"type": "object", "maxProperties": 0},
        "statusCode": {"const": "200"},
        "statusCodeValue": {"const": 200},
    },
}
_ERROR = {
    "type": "object",
    "required": ["externalapierror"],
    "properties": {
        "externalapierror": {
            "type": "object",
            "required": ["status", "message", "debugMessage", "subErrors"],
            "properties": {
                "status": {"type": "string", "description": "the HTTP status's name"},
                "message": STRING,
                "debugMessage": {"type": ["string", "null"]},
                "subErrors": {"type": ["array", "null"]},
            },
        }
    },
}


def component_schemas() -> dict[str, Schema]:
    components: dict[str, Schema] = {}
    for model in (UserIn, CustomEventIn, IdentifyIdBody, AccountIn):
        model_schema(model, components)
    new_account = _creating(
        components,
        AccountIn,
        "NewAccount",
        {
            "id": {"type": "string", "minLength": 1, "maxLength": 512},
            "name": {"type": "string", "minLength": 1},
            "propertyKeys": {
                "type": "array",
                "minItems": 1,
                "items": {"type": "string", "minLength": 1},
            },
        },
    )
    new_user = _creating(
        components,
        UserIn,
        "NewUser",
        {
            "identifyId": {"type": "string", "minLength": 1, "maxLength": 512},
            "propertyKeys": {"type": "array", "items": {"type": "string", "minLength": 1}},
        },
    )
    return {
        **components,
        **_empty_lists(),
        "NewAccount": new_account,
        "Account": _account(),
        "AccountPage": _page("accounts", "Account"),
        "AttributeMetadata": _attribute_metadata(),
        "NewUser": new_user,
        "User": _user(),
        "UserPage": _page("users", "User"),
        "CustomEvent": _event(),
        "CustomEventPage": _page("customEvents", "CustomEvent"),
        "Deleted": _DELETED,
        "Error": _ERROR,
    }
