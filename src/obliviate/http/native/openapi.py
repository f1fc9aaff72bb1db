"""The native API's OpenAPI 3.1 document, built from the operations (``/docs`` shows it)."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel

from obliviate.http.native.operations import Operation
from obliviate.http.native.schemas import Problem

REF = "#/components/schemas/{model}"
_PATH_PARAM = re.compile(r"{([^}]+)}")
_ERRORS = {
    "400": "malformed JSON, or a request the store refuses",
    "401": "missing or wrong bearer token",
    "403": "the token lacks the scope",
    "404": "no such resource in this tenant",
    "409": "conflict (suppressed, mass-delete guard, not cancellable)",
    "413": "body or batch too large",
    "422": "invalid field",
    "429": "rate limited (Retry-After, RateLimit-*)",
}


def _schema(model: type[BaseModel], components: dict[str, Any]) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template=REF)
    components.update(schema.pop("$defs", {}))
    components[model.__name__] = schema
    return {"$ref": REF.format(model=model.__name__)}


def openapi_document(ops: list[Operation]) -> dict[str, Any]:
    components: dict[str, Any] = {}
    problem = _schema(Problem, components)
    paths: dict[str, dict[str, Any]] = {}
    for op in ops:
        params: list[dict[str, Any]] = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in _PATH_PARAM.findall(op.path)
        ]
        params += [
            {
                "name": q.name,
                "in": "query",
                "description": q.description,
                "schema": {"type": q.type},
            }
            for q in op.query
        ]
        params += [
            {
                "name": h.name,
                "in": "header",
                "description": h.description,
                "schema": {"type": "string"},
            }
            for h in op.headers
        ]
        responses: dict[str, Any] = {}
        for status, model in ((op.status, op.response), *op.also):
            ok: dict[str, Any] = {"description": "success"}
            if model is not None:
                ok["content"] = {"application/json": {"schema": _schema(model, components)}}
            responses[str(status)] = ok
        for code, text in _ERRORS.items():
            responses[code] = {
                "description": text,
                "content": {"application/problem+json": {"schema": problem}},
            }
        operation: dict[str, Any] = {
            "operationId": op.handler.__name__,
            "summary": op.summary,
            "description": f"Needs the `{op.scope}` scope.",
            "security": [{"bearer": [op.scope]}],
            "parameters": params,
            "responses": responses,
        }
        if op.body is not None:
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": _schema(op.body, components)}},
            }
        paths.setdefault(op.path, {})[op.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Obliviate native API",
            "version": "1",
            "description": "Profiles, events, devices, batch deletions with status, dry runs, "
            "receipts and suppression. Errors are RFC 9457 problem details.",
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
