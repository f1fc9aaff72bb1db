"""Building blocks of the vendor surfaces' OpenAPI 3.1 documents, and the route that serves one.

Each surface writes its own document (its paths, bodies and error envelope stay in its package);
these helpers only spare them the repeated JSON plumbing.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from obliviate.http.json import json_response

Schema = dict[str, Any]
REF = "#/components/schemas/{model}"
# Starlette's `{name:convertor}` is OpenAPI's `{name}`.
_CONVERTOR = re.compile(r"{(\w+):\w+}")

RETRY_AFTER = {
    "Retry-After": {
        "description": "seconds until the rate limit lets requests through again",
        "schema": {"type": "integer"},
    }
}


def ref(name: str) -> Schema:
    return {"$ref": REF.format(model=name)}


def model_schema(model: type[BaseModel], components: dict[str, Schema]) -> Schema:
    """A pydantic model's JSON Schema under components, its nested models beside it."""
    schema = model.model_json_schema(ref_template=REF)
    components.update(schema.pop("$defs", {}))
    components[model.__name__] = schema
    return ref(model.__name__)


def json_body(schema: Schema, *, required: bool = True) -> Schema:
    return {"required": required, "content": {"application/json": {"schema": schema}}}


def answer(
    description: str, schema: Schema | None = None, *, headers: dict[str, Any] | None = None
) -> Schema:
    """A response object; without a schema it has no body."""
    found: Schema = {"description": description}
    if schema is not None:
        found["content"] = {"application/json": {"schema": schema}}
    if headers:
        found["headers"] = headers
    return found


def path_param(name: str, description: str, schema: Schema | None = None) -> Schema:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": schema or {"type": "string", "minLength": 1},
    }


def query_param(name: str, description: str, schema: Schema | None = None) -> Schema:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema or {"type": "string"},
    }


def document(
    *,
    title: str,
    description: str,
    paths: dict[str, dict[str, Schema]],
    schemas: dict[str, Schema],
    security_schemes: dict[str, Schema],
) -> Schema:
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": "1", "description": description},
        "servers": [{"url": "/"}],
        # One requirement naming every scheme: all of them are needed together.
        "security": [{name: [] for name in security_schemes}],
        "paths": paths,
        "components": {"schemas": schemas, "securitySchemes": security_schemes},
    }


def document_route(path: str, found: Schema) -> Route:
    """GET `path` answers the document, to anyone: it names no tenant and no secret."""

    async def serve(_: Request) -> Response:
        return json_response(found)

    return Route(path, serve, methods=["GET"])


def openapi_path(route_path: str) -> str:
    return _CONVERTOR.sub(r"{\1}", route_path)


def documented_operations(found: Schema) -> set[tuple[str, str]]:
    """(METHOD, path) of every operation a document describes."""
    return {(method.upper(), path) for path, item in found["paths"].items() for method in item}
