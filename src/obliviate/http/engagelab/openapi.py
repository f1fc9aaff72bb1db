"""EngageLab AppPush's ``/v4`` as an OpenAPI 3.1 document, served at
``/engagelab/openapi.json``. Bodies are checked by hand in ``translate``, so they are written
out here; success is always 200, errors are ``{"error":{"code","message"}}``."""

from __future__ import annotations

from obliviate.domain.devices import MAX_IDS_PER_REQUEST, MAX_REGISTRATION_ID_BYTES
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

PATH = "/engagelab/openapi.json"
_WHY = {
    400: "invalid field or parameter (code 27002), or malformed JSON",
    401: "credentials missing (code 27001) or wrong (code 27004)",
    404: "unknown or deleted registration_id (code 27002)",
    409: "a concurrent request bound the same alias or deleted the device",
    413: "request body too large (code 27002)",
    429: "over the tenant's rate limit (code 2002)",
}
# Tags and aliases: 1-40 bytes of letters, digits, _, @!#$&*+=. and CJK characters.
_LABEL = {
    "type": "string",
    "pattern": r"^[A-Za-z0-9_@!#$&*+=."
    r"\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]+$",
    "minLength": 1,
    "maxLength": 40,
}
_RID = {"type": "string", "minLength": 1, "maxLength": MAX_REGISTRATION_ID_BYTES}
_RIDS = {"type": "array", "items": _RID, "maxItems": MAX_IDS_PER_REQUEST}
_EMPTY = {"type": "object", "maxProperties": 0}


def _errors(*codes: int) -> dict[str, Schema]:
    return {
        str(code): answer(_WHY[code], ref("Error"), headers=RETRY_AFTER if code == 429 else None)
        for code in sorted({*codes, 400, 401, 413, 429})
    }


def _object(properties: Schema, required: list[str] | None = None) -> Schema:
    found: Schema = {"type": "object", "properties": properties}
    if required:
        found["required"] = required
    return found


_SCHEMAS: dict[str, Schema] = {
    "Error": _object(
        {
            "error": _object(
                {"code": {"type": "integer"}, "message": {"type": "string"}}, ["code", "message"]
            )
        },
        ["error"],
    ),
    "DeviceChange": _object(
        {
            "tags": {
                "description": '"" clears every tag',
                "oneOf": [
                    _object(
                        {
                            "add": {"type": "array", "items": _LABEL},
                            "remove": {"type": "array", "items": _LABEL},
                        }
                    ),
                    {"const": ""},
                ],
            },
            "alias": {"description": '"" unbinds the alias', "oneOf": [_LABEL, {"const": ""}]},
        }
    ),
    "Device": _object(
        {"tags": {"type": "array", "items": {"type": "string"}}, "alias": {"type": "string"}},
        ["tags", "alias"],
    ),
    "DeviceStatusRequest": _object({"registration_ids": _RIDS}, ["registration_ids"]),
    "DeviceStatus": {
        "type": "array",
        "items": _object(
            {
                "regid": {"type": "string"},
                "online": {"type": "boolean"},
                "last_online_time": {"type": "string"},
            },
            ["regid", "online"],
        ),
    },
    "TagMembership": _object(
        {"registration_ids": _object({"add": _RIDS, "remove": _RIDS})}, ["registration_ids"]
    ),
    "Tags": _object({"tags": {"type": "array", "items": {"type": "string"}}}, ["tags"]),
    "TagsCount": _object(
        {
            "tagsCount": {
                "type": "object",
                "additionalProperties": {"type": "integer", "minimum": 0},
            }
        },
        ["tagsCount"],
    ),
    "TagHasDevice": _object({"result": {"type": "boolean"}}, ["result"]),
    "AliasDevices": _object(
        {"registration_ids": {"type": "array", "items": {"type": "string"}, "maxItems": 1}},
        ["registration_ids"],
    ),
    "Deleted": _object({"success": {"const": True}}, ["success"]),
    "Empty": _EMPTY,
}


def _paths() -> dict[str, dict[str, Schema]]:
    rid = path_param("rid", "the device's registration_id", _RID)
    tag = path_param("tag", "a tag", _LABEL)
    alias = path_param("alias", "an alias", _LABEL)
    platform = query_param(
        "platform",
        "android, ios, hmos or web; several comma-separated",
        {"type": "string", "pattern": "^(android|ios|hmos|web)(,(android|ios|hmos|web))*$"},
    )
    done = answer("done", ref("Empty"))
    return {
        "/v4/devices/status": {
            "post": {
                "operationId": "devices_status",
                "summary": "Online status of up to 1,000 devices",
                "requestBody": json_body(ref("DeviceStatusRequest")),
                "responses": {
                    "200": answer("one entry per known device", ref("DeviceStatus")),
                    **_errors(),
                },
            }
        },
        "/v4/devices/{rid}": {
            "get": {
                "operationId": "get_device",
                "summary": "A device's tags and alias",
                "parameters": [rid],
                "responses": {"200": answer("the device", ref("Device")), **_errors(404)},
            },
            "post": {
                "operationId": "set_device",
                "summary": "Add or remove tags, bind or unbind the alias; registers a new device",
                "parameters": [rid],
                "requestBody": json_body(ref("DeviceChange"), required=False),
                "responses": {"200": done, **_errors(404, 409)},
            },
            "delete": {
                "operationId": "delete_device",
                "summary": "Delete the device, its tags, alias, info and timezone (async purge)",
                "parameters": [rid],
                "responses": {"200": answer("deleted", ref("Deleted")), **_errors(404)},
            },
        },
        "/v4/tags": {
            "get": {
                "operationId": "list_tags",
                "summary": "Every tag in use",
                "responses": {"200": answer("the tags", ref("Tags")), **_errors()},
            }
        },
        "/v4/tags_count": {
            "get": {
                "operationId": "tags_count",
                "summary": "How many devices carry each tag",
                "parameters": [
                    {
                        "name": "tags",
                        "in": "query",
                        "required": True,
                        "description": "repeated (tags=a&tags=b) or comma-separated (tags=a,b)",
                        "schema": {"type": "array", "items": _LABEL, "minItems": 1},
                        "explode": True,
                    },
                    platform,
                ],
                "responses": {"200": answer("count per tag", ref("TagsCount")), **_errors()},
            }
        },
        "/v4/tags/{tag}/registration_ids/{rid}": {
            "get": {
                "operationId": "tag_has_device",
                "summary": "Does the device carry the tag?",
                "parameters": [tag, rid],
                "responses": {"200": answer("yes or no", ref("TagHasDevice")), **_errors()},
            }
        },
        "/v4/tags/{tag}": {
            "post": {
                "operationId": "set_tag",
                "summary": "Add the tag to, or remove it from, up to 1,000 devices each",
                "parameters": [tag],
                "requestBody": json_body(ref("TagMembership")),
                "responses": {"200": done, **_errors(404)},
            },
            "delete": {
                "operationId": "delete_tag",
                "summary": "Remove the tag from every device (optionally of some platforms)",
                "parameters": [tag, platform],
                "responses": {"200": done, **_errors()},
            },
        },
        "/v4/aliases/{alias}": {
            "get": {
                "operationId": "get_alias",
                "summary": "The device bound to the alias (0 or 1)",
                "parameters": [alias, platform],
                "responses": {
                    "200": answer("its registration ids", ref("AliasDevices")),
                    **_errors(),
                },
            },
            "delete": {
                "operationId": "delete_alias",
                "summary": "Unbind the alias",
                "parameters": [alias, platform],
                "responses": {"200": done, **_errors()},
            },
        },
    }


def openapi_document() -> Schema:
    return document(
        title="Obliviate: EngageLab AppPush compatible API",
        description="Devices, tags and aliases as EngageLab AppPush's `/v4` serves them. "
        'Errors: `{"error":{"code":<int>,"message":"<text>"}}`.',
        paths=_paths(),
        schemas=_SCHEMAS,
        security_schemes={"basic": {"type": "http", "scheme": "basic"}},
    )
