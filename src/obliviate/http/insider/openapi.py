"""Insider's ``/api/user/v1`` as an OpenAPI 3.1 document, served at
``/insider/openapi.json``. Bodies are checked by hand in ``translate``, so they are written out
here, with the vendor's two error shapes: ``{"error"}`` and ``{"success":false,"message"}``."""

from __future__ import annotations

from obliviate.domain.identifiers import MAX_IDENTIFIER_BYTES
from obliviate.http.apidoc import RETRY_AFTER, Schema, answer, document, json_body, ref
from obliviate.http.insider.translate import MAX_USERS

PATH = "/insider/openapi.json"
_STRING = {"type": "string"}
_NAMES = {"type": "array", "items": _STRING}
_VALUE = {"type": "string", "minLength": 1, "maxLength": MAX_IDENTIFIER_BYTES}
_TYPED: dict[str, Schema] = {
    "uuid": _VALUE,
    "email": {**_VALUE, "pattern": r"^[^@\s]+@[^@\s]+\.[^@\s]+$"},
    "phone_number": {"type": "string", "pattern": r"^\+[1-9][0-9]{6,14}$"},
}
_CUSTOM = {
    "type": "object",
    "description": "custom identifiers by name (letters, digits, _; up to 50)",
    "propertyNames": {"pattern": "^[A-Za-z0-9_]{1,50}$"},
    "additionalProperties": _VALUE,
}


def _object(properties: Schema, required: list[str] | None = None, **more: object) -> Schema:
    found: Schema = {"type": "object", "properties": properties, **more}
    if required:
        found["required"] = required
    return found


def _error(description: str) -> Schema:
    return answer(description, ref("Error"))


def _errors(*extra: int) -> dict[str, Schema]:
    found = {
        "400": answer(
            'bad request (`{"error":"...: bad request"}`), or X-PARTNER-NAME missing or not '
            'lowercase (`{"success":false,"message":"Partner is invalid."}`)',
            {"anyOf": [ref("Error"), ref("Denied")]},
        ),
        "403": answer("wrong X-REQUEST-TOKEN", ref("Denied")),
        "413": _error("request body bigger than the maximum allowed size"),
        "429": answer("over the tenant's rate limit", ref("Error"), headers=RETRY_AFTER),
    }
    if 404 in extra:
        found["404"] = _error("no such user for these identifiers")
    return dict(sorted(found.items()))


_IDENTIFIERS = _object({**_TYPED, "custom": _CUSTOM}, additionalProperties=False, minProperties=1)
_ONE_IDENTIFIER = {
    "description": "exactly one identifier",
    "oneOf": [
        *(
            _object({name: schema}, [name], additionalProperties=False)
            for name, schema in _TYPED.items()
        ),
        _object(
            {"custom": {**_CUSTOM, "minProperties": 1, "maxProperties": 1}},
            ["custom"],
            additionalProperties=False,
        ),
    ],
}
_EVENT = _object(
    {
        "event_name": {"type": "string", "minLength": 1, "maxLength": 255},
        "timestamp": {"type": "string", "format": "date-time"},
        "event_params": {"type": "object"},
    },
    ["event_name", "timestamp"],
)
_OUTCOME = _object(
    {
        "data": _object(
            {
                "successful": _object({"count": {"type": "integer", "minimum": 1}}),
                "fail": _object(
                    {
                        "count": {"type": "integer", "minimum": 1},
                        "errors": {"type": "object", "additionalProperties": _NAMES},
                    }
                ),
            },
            ["successful", "fail"],
        )
    },
    ["data"],
)
_SCHEMAS: dict[str, Schema] = {
    "Error": _object({"error": _STRING}, ["error"]),
    "Denied": _object({"success": {"const": False}, "message": _STRING}, ["success", "message"]),
    "Identifiers": _IDENTIFIERS,
    "OneIdentifier": _ONE_IDENTIFIER,
    "Upsert": _object(
        {
            "users": {
                "type": "array",
                "maxItems": MAX_USERS,
                "items": _object(
                    {
                        "identifiers": ref("Identifiers"),
                        "attributes": _object({"custom": {"type": "object"}}),
                        "events": {"type": "array", "items": _EVENT},
                    },
                    ["identifiers"],
                ),
            }
        },
        ["users"],
    ),
    "ProfileRequest": _object(
        {
            "identifiers": ref("Identifiers"),
            "attributes": {**_NAMES, "description": "only these attributes; all when absent"},
            "events": _object(
                {
                    "start_date": {"type": "integer", "description": "unix seconds"},
                    "end_date": {"type": "integer", "description": "unix seconds"},
                    "wanted": {
                        "type": "array",
                        "items": _object({"event_name": _STRING, "params": _NAMES}, ["event_name"]),
                    },
                }
            ),
        },
        ["identifiers"],
    ),
    "Profile": _object(
        {
            "attributes": {"type": "object"},
            "events": {
                "type": "object",
                "additionalProperties": {
                    "type": "array",
                    "items": _object(
                        {"timestamp": _STRING, "event_params": {"type": "object"}},
                        ["timestamp", "event_params"],
                    ),
                },
            },
        },
        ["attributes", "events"],
    ),
    "IdentifierDeletion": _object({"identifiers": ref("OneIdentifier")}, ["identifiers"]),
    "IdentifierChange": _object(
        {"old_identifier": ref("OneIdentifier"), "new_identifier": ref("OneIdentifier")},
        ["old_identifier", "new_identifier"],
    ),
    "UserDeletion": _object({"identifiers": ref("Identifiers")}, ["identifiers"]),
    "AttributeDeletion": _object(
        {
            "users": {
                "type": "array",
                "maxItems": MAX_USERS,
                "items": _object(
                    {
                        "identifiers": ref("Identifiers"),
                        "whole": _NAMES,
                        "custom": _object({"whole": _NAMES}),
                    },
                    ["identifiers"],
                ),
            }
        },
        ["users"],
    ),
    "BatchOutcome": _OUTCOME,
    "Empty": {"type": "object", "maxProperties": 0},
}


def _operation(operation_id: str, summary: str, body: str, ok: str, *extra: int) -> Schema:
    return {
        "operationId": operation_id,
        "summary": summary,
        "requestBody": json_body(ref(body)),
        "responses": {"200": answer("done", ref(ok)), **_errors(*extra)},
    }


def openapi_document() -> Schema:
    base = "/api/user/v1"
    paths = {
        f"{base}/upsert": {
            "post": _operation(
                "upsert",
                "Create, update, merge or revive up to 1,000 users; per-user failures in the body",
                "Upsert",
                "BatchOutcome",
            )
        },
        f"{base}/profile": {
            "post": _operation(
                "profile", "A user's attributes and wanted events", "ProfileRequest", "Profile", 404
            )
        },
        f"{base}/identity": {
            "delete": _operation(
                "delete_identity",
                "Remove one identifier (never the user's only one)",
                "IdentifierDeletion",
                "Empty",
                404,
            ),
            "patch": _operation(
                "change_identity", "Replace one identifier", "IdentifierChange", "Empty", 404
            ),
        },
        f"{base}/delete": {
            "post": _operation("delete_user", "Hard-delete the user", "UserDeletion", "Empty", 404)
        },
        f"{base}/attribute/delete": {
            "post": _operation(
                "delete_attributes",
                "Delete attributes of up to 1,000 users; per-user failures in the body",
                "AttributeDeletion",
                "BatchOutcome",
            )
        },
    }
    return document(
        title="Obliviate: Insider UCD compatible API",
        description="Users, identifiers and events as Insider's `/api/user/v1` serves them.",
        paths=paths,
        schemas=_SCHEMAS,
        security_schemes={
            "partner": {"type": "apiKey", "in": "header", "name": "X-PARTNER-NAME"},
            "token": {"type": "apiKey", "in": "header", "name": "X-REQUEST-TOKEN"},
        },
    )
