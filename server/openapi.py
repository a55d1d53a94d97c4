"""OpenAPI 3.1 document generated from the routers' declarations and pydantic models."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, TypeAdapter

from server.api import Endpoint, RawDoc, Router

_PATH_PARAM = re.compile(r"{([a-zA-Z_][a-zA-Z0-9_]*)(?::[a-z]+)?}")
REF = "#/components/schemas/{model}"

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "details"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "details": {
                    "description": "Offending fields: [{field, message, type}]",
                    "anyOf": [{"type": "array", "items": {"type": "object"}}, {"type": "object"}],
                },
            },
        }
    },
}


class _Schemas:
    def __init__(self) -> None:
        self.components: dict[str, Any] = {"Error": ERROR_SCHEMA}

    def ref(self, annotation: Any) -> dict[str, Any]:
        schema = TypeAdapter(annotation).json_schema(ref_template=REF, mode="serialization")
        self.components.update(schema.pop("$defs", {}))
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            self.components[annotation.__name__] = schema
            return {"$ref": REF.format(model=annotation.__name__)}
        return schema

    def input_ref(self, model: type[BaseModel]) -> dict[str, Any]:
        schema = model.model_json_schema(ref_template=REF, mode="validation")
        self.components.update(schema.pop("$defs", {}))
        name = f"{model.__name__}"
        self.components[name] = schema
        return {"$ref": REF.format(model=name)}


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def _path_parameters(path: str) -> list[dict[str, Any]]:
    return [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in _PATH_PARAM.findall(path)
    ]


def _operation(ep: Endpoint, schemas: _Schemas) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": ep.summary.splitlines()[0],
        "operationId": f"{ep.method.lower()}_{ep.handler.__name__}",
        "tags": list(ep.tags),
    }
    description = ep.description or "\n".join(ep.summary.splitlines()[1:]).strip()
    if ep.auth is not None:
        description = (description + f"\n\nRequires role: `{ep.role}`.").strip()
        op["security"] = [{"bearer": []}]
    else:
        op["security"] = []
    if description:
        op["description"] = description
    params = _path_parameters(ep.path)
    if ep.query is not None:
        for name, field in ep.query.model_fields.items():
            schema = TypeAdapter(field.annotation).json_schema(ref_template=REF)
            params.append(
                {
                    "name": field.alias or name,
                    "in": "query",
                    "required": field.is_required(),
                    "description": field.description or "",
                    "schema": schema,
                }
            )
    if params:
        op["parameters"] = params
    if ep.body is not None:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": schemas.input_ref(ep.body)}},
        }
    responses: dict[str, Any] = {}
    if ep.response is not None:
        responses[str(ep.status)] = {
            "description": "Success",
            "content": {"application/json": {"schema": schemas.ref(ep.response)}},
        }
    else:
        responses["204" if ep.status == 200 else str(ep.status)] = {"description": "Success"}
    if ep.body is not None or ep.query is not None:
        responses["422"] = _error("Validation error: `details` names each invalid field")
    if ep.auth is not None:
        responses["401"] = _error("Missing, invalid or expired credentials")
        responses["403"] = _error("Authenticated but lacking the role")
    if "{" in ep.path:
        responses["404"] = _error("Not found (or belongs to another organization)")
    op["responses"] = responses
    return op


def _raw_operation(doc: RawDoc) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": doc.summary, "tags": list(doc.tags)}
    if doc.description:
        op["description"] = doc.description
    params = _path_parameters(doc.path)
    if params:
        op["parameters"] = params
    op["responses"] = {code: {"description": text} for code, text in doc.responses.items()}
    return op


def build_openapi(routers: Iterable[Router], *, version: str) -> dict[str, Any]:
    schemas = _Schemas()
    paths: dict[str, dict[str, Any]] = {}
    for router in routers:
        for ep in router.endpoints:
            path = _PATH_PARAM.sub(r"{\1}", ep.path)
            paths.setdefault(path, {})[ep.method.lower()] = _operation(ep, schemas)
        for doc in router.raw_docs:
            path = _PATH_PARAM.sub(r"{\1}", doc.path)
            method = "get" if doc.method.upper() == "WEBSOCKET" else doc.method.lower()
            operation = _raw_operation(doc)
            if doc.method.upper() == "WEBSOCKET":
                operation["description"] = (
                    "WebSocket endpoint (upgrade with GET). " + operation.get("description", "")
                ).strip()
            paths.setdefault(path, {})[method] = operation
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Switchboard API",
            "version": version,
            "description": "Self-hostable real-time voice agent server. Authenticate with "
            "`Authorization: Bearer <access token or sk_ API key>`. Errors are "
            '`{"error": {"code", "message", "details"}}`.',
        },
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": schemas.components,
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An access token (JWT) from /api/v1/auth/login or an API key",
                }
            },
        },
    }
