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
from obliviate.http.gainsight import accounts as account_wire
from obliviate.http.gainsight import catalog
from obliviate.http.gainsight import translate as tr
from obliviate.http.gainsight.schemas import AccountIn, CustomEventIn, IdentifyIdBody, UserIn

PATH = "/gainsight/openapi.json"
_WHY = {
    400: "invalid input, malformed JSON, or (on create) a possible duplicate",
    401: "missing or wrong X-APTRINSIC-API-KEY",
    404: "no such user or account (or it is deleted), or no such model type",
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
    for model in (UserIn, CustomEventIn, IdentifyIdBody, AccountIn):
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
    new_account = dict(components["AccountIn"])
    new_account["title"] = "NewAccount"
    new_account["required"] = ["id", "name", "propertyKeys"]
    new_account["properties"] = {
        **new_account["properties"],
        "id": {"type": "string", "minLength": 1, "maxLength": 512},
        "name": {"type": "string", "minLength": 1},
        "propertyKeys": {
            "type": "array",
            "minItems": 1,
            "items": {"type": "string", "minLength": 1},
        },
    }
    account: dict[str, Any] = {
        "id": _STRING,
        **dict.fromkeys(account_wire.STRING_FIELDS, _STRING),
        **dict.fromkeys(account_wire.INTEGER_FIELDS, _INTEGER),
        "nps": {"type": "number"},
        "location": nullable_object,
        "numberOfUsers": {"type": "integer", "minimum": 0},
        "propertyKeys": {"type": "array", "items": _STRING},
        "createDate": _INTEGER,
        "lastModifiedDate": _INTEGER,
        "customAttributes": nullable_object,
    }
    attribute: dict[str, Any] = {
        **dict.fromkeys(
            ("id", "name", "apiName", "internalName", "description", "defaultValue"), _STRING
        ),
        "type": {"enum": ["STRING", "DATE_TIME", "BOOLEAN", "NUMBER"]},
        "state": {"enum": ["ENABLED", "DISABLED", "DELETED"]},
        "origin": {"enum": ["CUSTOM", "DEFAULT"]},
        "createdDate": _INTEGER,
        "modifiedDate": _INTEGER,
    }
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
                "scrollId": _STRING,
            },
        }
        for spec in catalog.EVENT_HISTORIES
    }
    return {
        **components,
        **numbered,
        **histories,
        "NewAccount": new_account,
        "Account": {"type": "object", "required": list(account), "properties": account},
        "AccountPage": _page("accounts", "Account"),
        "AttributeMetadata": {
            "type": "object",
            "required": list(attribute),
            "properties": attribute,
        },
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


_FILTER_HELP = (
    "`field<op>value` clauses joined by `;` (AND); repeat the parameter to OR groups. "
    "Operators `==` `!=` `<` `<=` `>` `>=` `~` `!~` (`*` and `?` wildcards); text compares "
    "case-insensitively; dates are epoch ms or ISO-8601"
)
_SORT_HELP = "fields joined by `;`, each optionally prefixed by `-` (descending)"


def _paging(filter_help: str) -> list[Schema]:
    return [
        query_param("filter", filter_help, {"type": "array", "items": {"type": "string"}}),
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
                    *_paging(_FILTER_HELP),
                    query_param("sort", f"{_SORT_HELP}; default createDate"),
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
                    *_paging(
                        "`identifyId==<id>`, `eventName==<name>` and `date` with `==` `<` `<=` "
                        "`>` `>=` (epoch ms or ISO-8601), joined by `;`"
                    ),
                    query_param("sort", "date (default) or -date", {"enum": ["date", "-date"]}),
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


def _account_paths() -> dict[str, dict[str, Schema]]:
    account_id = path_param("account_id", "the account's id, URL-encoded")
    return {
        "/v1/accounts": {
            "post": {
                "operationId": "create_account",
                "summary": "Create an account",
                "requestBody": json_body(ref("NewAccount")),
                "responses": {"201": answer("created", ref("Account")), **_errors(413)},
            },
            "get": {
                "operationId": "list_accounts",
                "summary": "List accounts, a page at a time",
                "parameters": [*_paging(_FILTER_HELP), query_param("sort", _SORT_HELP)],
                "responses": {
                    "200": answer("a page of accounts", ref("AccountPage")),
                    **_errors(),
                },
            },
        },
        "/v1/accounts/update": {
            "put": {
                "operationId": "update_account_by_body",
                "summary": "Partial update of the account named by id in the body",
                "requestBody": json_body(ref("AccountIn")),
                "responses": {"204": answer("updated"), **_errors(404, 413)},
            }
        },
        "/v1/accounts/{account_id}": {
            "put": {
                "operationId": "update_account",
                "summary": "Partial update: omitted fields are kept",
                "parameters": [account_id],
                "requestBody": json_body(ref("AccountIn")),
                "responses": {"204": answer("updated"), **_errors(404, 413)},
            },
            "get": {
                "operationId": "get_account",
                "summary": "The full account object",
                "parameters": [account_id],
                "responses": {"200": answer("the account", ref("Account")), **_errors(404)},
            },
            "delete": {
                "operationId": "delete_account",
                "summary": "Delete the account and soft-delete every user of it",
                "parameters": [account_id],
                "responses": {
                    "200": answer("deleted", ref("Deleted")),
                    **_errors(404, 409, 413),
                },
            },
        },
        "/v1/admin/model/{model}/attributes": {
            "get": {
                "operationId": "model_attributes",
                "summary": "Standard attributes and every custom attribute the tenant stores",
                "parameters": [
                    path_param("model", "user or account", {"type": "string"}),
                ],
                "responses": {
                    "200": answer(
                        "attribute metadata",
                        {"type": "array", "items": ref("AttributeMetadata")},
                    ),
                    **_errors(404),
                },
            }
        },
    }


def _list_paths() -> dict[str, dict[str, Schema]]:
    paths: dict[str, dict[str, Schema]] = {}
    for spec in catalog.CONTENT_LISTS:
        parameters = [
            query_param("pageNumber", "zero-based", {"type": "integer", "minimum": 0}),
            query_param(
                "pageSize",
                f"1-{spec.max_page_size}",
                {"type": "integer", "minimum": 1, "maximum": spec.max_page_size},
            ),
        ]
        if spec.fields is not None:
            parameters.append(
                query_param("filter", _FILTER_HELP, {"type": "array", "items": _STRING})
            )
        paths[spec.path] = {
            "get": {
                "operationId": f"list_{spec.key}",
                "summary": "A page-numbered list; Obliviate holds none",
                "parameters": parameters,
                "responses": {
                    "200": answer("an empty last page", ref(f"{spec.key}Page")),
                    **_errors(),
                },
            }
        }
    for history in catalog.EVENT_HISTORIES:
        paths[history.path] = {
            "get": {
                "operationId": "list_" + history.path.rsplit("/", 1)[-1],
                "summary": "An event history Obliviate records none of",
                "parameters": [
                    *_paging(_FILTER_HELP),
                    query_param("sort", "date or accountId, optionally descending (-)"),
                    query_param("dateRangeStart", "epoch ms", _INTEGER),
                    query_param("dateRangeEnd", "epoch ms", _INTEGER),
                ],
                "responses": {
                    "200": answer("an empty page", ref(f"{history.key}History")),
                    **_errors(),
                },
            }
        }
    return paths


def openapi_document() -> Schema:
    return document(
        title="Obliviate: Gainsight PX compatible API",
        description="Users, accounts, custom events and model metadata as Gainsight PX's REST "
        "API `/v1` serves them. "
        'Errors: `{"externalapierror":{"status","message","debugMessage","subErrors"}}`.',
        paths={**_paths(), **_account_paths(), **_list_paths()},
        schemas=_schemas(),
        security_schemes={
            "apiKey": {"type": "apiKey", "in": "header", "name": "X-APTRINSIC-API-KEY"}
        },
    )
