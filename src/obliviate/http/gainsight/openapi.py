"""Gainsight PX's ``/v1`` as an OpenAPI 3.1 document (SPEC §3.1), served at
``/gainsight/openapi.json``. Request bodies come from the pydantic models the routes parse."""

from __future__ import annotations

from typing import Any

from obliviate.http.apidoc import (
    RETRY_AFTER,
    Schema,
    answer,
    document,
    json_body,
    model_schema,
    path_param,
    query_param,
    ref,
)
from obliviate.http.gainsight import translate as tr
from obliviate.http.gainsight.schemas import CustomEventIn, IdentifyIdBody, UserIn

PATH = "/gainsight/openapi.json"
_WHY = {
    400: "invalid input, malformed JSON, or (on create) a possible duplicate",
    401: "missing or wrong X-APTRINSIC-API-KEY",
    404: "no such user (or it is deleted)",
    409: "suppressed identifier, or the mass-delete guard refused",
    413: "request body too large",
    429: "over the tenant's rate limit",
}
_STRING = {"type": "string"}
_INTEGER = {"type": "integer"}
# The user fields the wire carries: those a client sets, and two the server fills in.
_STRING_FIELDS = tr.STRING_FIELDS
_NUMBER_FIELDS = (*tr.NUMBER_FIELDS, "lastSeenDate", "numberOfVisits")


def _errors(*codes: int) -> dict[str, Schema]:
    return {
        str(code): answer(_WHY[code], ref("Error"), headers=RETRY_AFTER if code == 429 else None)
        for code in sorted({*codes, 400, 401, 429})
    }


def _schemas() -> dict[str, Schema]:
    components: dict[str, Schema] = {}
    for model in (UserIn, CustomEventIn, IdentifyIdBody):
        model_schema(model, components)
    new_user = dict(components["UserIn"])
    new_user["title"] = "NewUser"
    new_user["required"] = ["identifyId", "propertyKeys"]
    new_user["properties"] = {
        **new_user["properties"],
        "identifyId": {"type": "string", "minLength": 1, "maxLength": 512},
        "propertyKeys": {"type": "array", "items": {"type": "string", "minLength": 1}},
    }
    nullable_object = {"type": ["object", "null"]}
    user: dict[str, Any] = {
        "aptrinsicId": _STRING,
        "identifyId": _STRING,
        **dict.fromkeys(_STRING_FIELDS, _STRING),
        **dict.fromkeys(_NUMBER_FIELDS, _INTEGER),
        "location": nullable_object,
        "propertyKeys": {"type": "array", "items": _STRING},
        "createDate": _INTEGER,
        "lastModifiedDate": _INTEGER,
        "customAttributes": nullable_object,
        "globalUnsubscribe": {"type": "boolean"},
        "id": _STRING,
    }
    event: dict[str, Any] = {
        "eventId": _STRING,
        "eventName": _STRING,
        "identifyId": _STRING,
        "propertyKey": _STRING,
        "userType": _STRING,
        "accountId": {"type": ["string", "null"]},
        "date": _INTEGER,
        "attributes": {"type": "object"},
        "globalContext": nullable_object,
    }
    nullable_string = {"type": ["string", "null"]}
    return {
        **components,
        "NewUser": new_user,
        "User": {"type": "object", "required": list(user), "properties": user},
        "UserPage": _page("users", "User"),
        "CustomEvent": {"type": "object", "required": list(event), "properties": event},
        "CustomEventPage": _page("customEvents", "CustomEvent"),
        "Deleted": {
            "type": "object",
            "required": ["body", "statusCode", "statusCodeValue"],
            "properties": {
                "body": {"type": "object", "maxProperties": 0},
                "statusCode": {"const": "200"},
                "statusCodeValue": {"const": 200},
            },
        },
        "Error": {
            "type": "object",
            "required": ["externalapierror"],
            "properties": {
                "externalapierror": {
                    "type": "object",
                    "required": ["status", "message", "debugMessage", "subErrors"],
                    "properties": {
                        "status": {"type": "string", "description": "the HTTP status's name"},
                        "message": _STRING,
                        "debugMessage": nullable_string,
                        "subErrors": {"type": ["array", "null"]},
                    },
                }
            },
        },
    }


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


def _paging(filter_help: str) -> list[Schema]:
    return [
        query_param("filter", filter_help),
        query_param(
            "pageSize",
            "1-1000, default 25; a scrollId call keeps the first call's size",
            {"type": "integer", "minimum": 1, "maximum": 1000},
        ),
        query_param("scrollId", "the previous page's scrollId"),
    ]


def _paths() -> dict[str, dict[str, Schema]]:
    identify_id = path_param("identify_id", "the user's identifyId, URL-encoded")
    hard_delete = query_param(
        "hardDelete", "true: never revivable; false (default): soft", {"type": "boolean"}
    )
    return {
        "/v1/users": {
            "post": {
                "operationId": "create_user",
                "summary": "Create a user, or revive a soft-deleted one within its window",
                "requestBody": json_body(ref("NewUser")),
                "responses": {
                    "201": answer("created or revived", ref("User")),
                    **_errors(409, 413),
                },
            },
            "get": {
                "operationId": "list_users",
                "summary": "List users, a page at a time",
                "parameters": [
                    *_paging("`field==value` clauses joined by `;`"),
                    query_param(
                        "sort", "createDate or -createDate", {"enum": ["createDate", "-createDate"]}
                    ),
                ],
                "responses": {"200": answer("a page of users", ref("UserPage")), **_errors()},
            },
        },
        "/v1/users/update": {
            "put": {
                "operationId": "update_user_by_body",
                "summary": "Partial update of the user named by identifyId in the body",
                "requestBody": json_body(ref("UserIn")),
                "responses": {"204": answer("updated"), **_errors(404, 413)},
            }
        },
        "/v1/users/delete": {
            "delete": {
                "operationId": "delete_user_by_body",
                "summary": "Soft (default) or hard delete of the user named in the body",
                "parameters": [hard_delete],
                "requestBody": json_body(ref("IdentifyIdBody"), required=False),
                "responses": {
                    "200": answer("deleted", ref("Deleted")),
                    **_errors(404, 409, 413),
                },
            }
        },
        "/v1/users/{identify_id}": {
            "put": {
                "operationId": "update_user",
                "summary": "Partial update: omitted fields are kept; revives within the window",
                "parameters": [identify_id],
                "requestBody": json_body(ref("UserIn")),
                "responses": {"204": answer("updated"), **_errors(404, 413)},
            },
            "get": {
                "operationId": "get_user",
                "summary": "The full user object",
                "parameters": [identify_id],
                "responses": {"200": answer("the user", ref("User")), **_errors(404)},
            },
            "delete": {
                "operationId": "delete_user",
                "summary": "Soft (default) or hard delete",
                "parameters": [identify_id, hard_delete],
                "responses": {
                    "200": answer("deleted", ref("Deleted")),
                    **_errors(404, 409, 413),
                },
            },
        },
        "/v1/events/custom": {
            "post": {
                "operationId": "create_event",
                "summary": "Record a custom event for an active user",
                "requestBody": json_body(ref("CustomEventIn")),
                "responses": {
                    "201": answer("recorded", ref("CustomEvent")),
                    **_errors(404, 413),
                },
            },
            "get": {
                "operationId": "list_events",
                "summary": "List custom events, a page at a time",
                "parameters": [
                    *_paging("`identifyId==<id>` and/or `eventName==<name>`, joined by `;`"),
                    query_param("dateRangeStart", "epoch ms", _INTEGER),
                    query_param("dateRangeEnd", "epoch ms", _INTEGER),
                ],
                "responses": {
                    "200": answer("a page of events", ref("CustomEventPage")),
                    **_errors(),
                },
            },
        },
    }


def openapi_document() -> Schema:
    return document(
        title="Obliviate: Gainsight PX compatible API",
        description="Users and custom events as Gainsight PX's REST API `/v1` serves them. "
        'Errors: `{"externalapierror":{"status","message","debugMessage","subErrors"}}`.',
        paths=_paths(),
        schemas=_schemas(),
        security_schemes={
            "apiKey": {"type": "apiKey", "in": "header", "name": "X-APTRINSIC-API-KEY"}
        },
    )
