"""Gainsight PX's ``/v1`` as an OpenAPI 3.1 document, served at ``/gainsight/openapi.json``:
the operations here, the bodies and answers they name in ``openapi_schemas``."""

from __future__ import annotations

from obliviate.http.apidoc import (
    RETRY_AFTER,
    Schema,
    answer,
    document,
    json_body,
    path_param,
    query_param,
    ref,
)
from obliviate.http.gainsight import catalog
from obliviate.http.gainsight.openapi_schemas import INTEGER, STRING, component_schemas

PATH = "/gainsight/openapi.json"
_WHY = {
    400: "invalid input, malformed JSON, or (on create) a possible duplicate",
    401: "missing or wrong X-APTRINSIC-API-KEY",
    404: "no such user or account (or it is deleted), or no such model type",
    409: "suppressed identifier, or the mass-delete guard refused",
    413: "request body too large",
    429: "over the tenant's rate limit",
}
_FILTER_HELP = (
    "`field<op>value` clauses joined by `;` (AND); repeat the parameter to OR groups. "
    "Operators `==` `!=` `<` `<=` `>` `>=` `~` `!~` (`*` and `?` wildcards); text compares "
    "case-insensitively; dates are epoch ms or ISO-8601"
)
_SORT_HELP = "fields joined by `;`, each optionally prefixed by `-` (descending)"
_DATE_RANGE = (
    query_param("dateRangeStart", "epoch ms", INTEGER),
    query_param("dateRangeEnd", "epoch ms", INTEGER),
)
_HARD_DELETE = query_param(
    "hardDelete", "true: never revivable; false (default): soft", {"type": "boolean"}
)
_IDENTIFY_ID = path_param("identify_id", "the user's identifyId, URL-encoded")
_ACCOUNT_ID = path_param("account_id", "the account's id, URL-encoded")


def _operation(
    operation_id: str,
    summary: str,
    ok: tuple[int, str, Schema | None],
    errors: tuple[int, ...] = (),
    *,
    parameters: list[Schema] | None = None,
    body: Schema | None = None,
) -> Schema:
    """One operation: its success answer ``(status, description, schema)`` and the error
    statuses beyond the 400, 401 and 429 that every operation may answer."""
    found: Schema = {"operationId": operation_id, "summary": summary}
    if parameters is not None:
        found["parameters"] = parameters
    if body is not None:
        found["requestBody"] = body
    status, description, schema = ok
    found["responses"] = {
        str(status): answer(description, schema),
        **{
            str(code): answer(
                _WHY[code], ref("Error"), headers=RETRY_AFTER if code == 429 else None
            )
            for code in sorted({*errors, 400, 401, 429})
        },
    }
    return found


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


def _deleted(operation_id: str, summary: str, parameters: list[Schema]) -> Schema:
    return _operation(
        operation_id,
        summary,
        (200, "deleted", ref("Deleted")),
        (404, 409, 413),
        parameters=parameters,
    )


def _updated(operation_id: str, summary: str, body: str, parameters: list[Schema] | None) -> Schema:
    return _operation(
        operation_id,
        summary,
        (204, "updated", None),
        (404, 413),
        parameters=parameters,
        body=json_body(ref(body)),
    )


def _user_paths() -> dict[str, dict[str, Schema]]:
    return {
        "/v1/users": {
            "post": _operation(
                "create_user",
                "Create a user, or revive a soft-deleted one within its window",
                (201, "created or revived", ref("User")),
                (409, 413),
                body=json_body(ref("NewUser")),
            ),
            "get": _operation(
                "list_users",
                "List users, a page at a time",
                (200, "a page of users", ref("UserPage")),
                parameters=[
                    *_paging(_FILTER_HELP),
                    query_param("sort", f"{_SORT_HELP}; default createDate"),
                ],
            ),
        },
        "/v1/users/update": {
            "put": _updated(
                "update_user_by_body",
                "Partial update of the user named by identifyId in the body",
                "UserIn",
                None,
            )
        },
        "/v1/users/delete": {
            "delete": _operation(
                "delete_user_by_body",
                "Soft (default) or hard delete of the user named in the body",
                (200, "deleted", ref("Deleted")),
                (404, 409, 413),
                parameters=[_HARD_DELETE],
                body=json_body(ref("IdentifyIdBody"), required=False),
            )
        },
        "/v1/users/{identify_id}": {
            "put": _updated(
                "update_user",
                "Partial update: omitted fields are kept; revives within the window",
                "UserIn",
                [_IDENTIFY_ID],
            ),
            "get": _operation(
                "get_user",
                "The full user object",
                (200, "the user", ref("User")),
                (404,),
                parameters=[_IDENTIFY_ID],
            ),
            "delete": _deleted(
                "delete_user", "Soft (default) or hard delete", [_IDENTIFY_ID, _HARD_DELETE]
            ),
        },
        "/v1/events/custom": {
            "post": _operation(
                "create_event",
                "Record a custom event for an active user",
                (201, "recorded", ref("CustomEvent")),
                (404, 413),
                body=json_body(ref("CustomEventIn")),
            ),
            "get": _operation(
                "list_events",
                "List custom events, a page at a time",
                (200, "a page of events", ref("CustomEventPage")),
                parameters=[
                    *_paging(
                        "`identifyId==<id>`, `eventName==<name>` and `date` with `==` `<` `<=` "
                        "`>` `>=` (epoch ms or ISO-8601), joined by `;`"
                    ),
                    query_param("sort", "date (default) or -date", {"enum": ["date", "-date"]}),
                    *_DATE_RANGE,
                ],
            ),
        },
    }


def _account_paths() -> dict[str, dict[str, Schema]]:
    return {
        "/v1/accounts": {
            "post": _operation(
                "create_account",
                "Create an account",
                (201, "created", ref("Account")),
                (413,),
                body=json_body(ref("NewAccount")),
            ),
            "get": _operation(
                "list_accounts",
                "List accounts, a page at a time",
                (200, "a page of accounts", ref("AccountPage")),
                parameters=[*_paging(_FILTER_HELP), query_param("sort", _SORT_HELP)],
            ),
        },
        "/v1/accounts/update": {
            "put": _updated(
                "update_account_by_body",
                "Partial update of the account named by id in the body",
                "AccountIn",
                None,
            )
        },
        "/v1/accounts/{account_id}": {
            "put": _updated(
                "update_account",
                "Partial update: omitted fields are kept",
                "AccountIn",
                [_ACCOUNT_ID],
            ),
            "get": _operation(
                "get_account",
                "The full account object",
                (200, "the account", ref("Account")),
                (404,),
                parameters=[_ACCOUNT_ID],
            ),
            "delete": _deleted(
                "delete_account",
                "Delete the account and soft-delete every user of it",
                [_ACCOUNT_ID],
            ),
        },
        "/v1/admin/model/{model}/attributes": {
            "get": _operation(
                "model_attributes",
                "Standard attributes and every custom attribute the tenant stores",
                (200, "attribute metadata", {"type": "array", "items": ref("AttributeMetadata")}),
                (404,),
                parameters=[path_param("model", "user or account", {"type": "string"})],
            )
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
                query_param("filter", _FILTER_HELP, {"type": "array", "items": STRING})
            )
        paths[spec.path] = {
            "get": _operation(
                f"list_{spec.key}",
                "A page-numbered list; Obliviate holds none",
                (200, "an empty last page", ref(f"{spec.key}Page")),
                parameters=parameters,
            )
        }
    for history in catalog.EVENT_HISTORIES:
        paths[history.path] = {
            "get": _operation(
                "list_" + history.path.rsplit("/", 1)[-1],
                "An event history Obliviate records none of",
                (200, "an empty page", ref(f"{history.key}History")),
                parameters=[
                    *_paging(_FILTER_HELP),
                    query_param("sort", "date or accountId, optionally descending (-)"),
                    *_DATE_RANGE,
                ],
            )
        }
    return paths


def openapi_document() -> Schema:
    return document(
        title="Obliviate: Gainsight PX compatible API",
        description="Users, accounts, custom events and model metadata as Gainsight PX's REST "
        "API `/v1` serves them. "
        'Errors: `{"externalapierror":{"status","message","debugMessage","subErrors"}}`.',
        paths={**_user_paths(), **_account_paths(), **_list_paths()},
        schemas=component_schemas(),
        security_schemes={
            "apiKey": {"type": "apiKey", "in": "header", "name": "X-APTRINSIC-API-KEY"}
        },
    )
