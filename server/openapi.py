"""OpenAPI 3.1 document generated from the routers' declarations and pydantic models."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, TypeAdapter, WithJsonSchema

from server.api import Endpoint, RawDoc, Router
from server.json_body import INT32_MAX

_PATH_PARAM = re.compile(r"{([a-zA-Z_][a-zA-Z0-9_]*)(?::([a-z]+))?}")
REF = "#/components/schemas/{model}"

ERROR_DETAIL_SCHEMA = {
    "type": "object",
    "required": ["pointer", "code", "message"],
    "properties": {
        "pointer": {
            "type": "string",
            "description": "RFC 6901 JSON pointer to what is wrong, rooted at the part of the "
            "request it came from: `/body/email`, `/query/limit`, `/path/version` (for "
            "`workflow_invalid`: into the workflow definition, e.g. `/nodes/2/prompt`)",
            "examples": ["/body/email"],
        },
        "code": {"type": "string", "description": "Machine-readable reason",
                 "examples": ["extra_forbidden"]},
        "message": {"type": "string", "description": "Human-readable explanation"},
    },
    "additionalProperties": False,
}
ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "details"],
            "properties": {
                "code": {"type": "string", "examples": ["validation_error"]},
                "message": {"type": "string"},
                "details": {"type": "array",
                            "items": {"$ref": "#/components/schemas/ErrorDetail"}},
            },
        }
    },
}
# Models documented in components although no route takes them directly (e.g. the workflow
# definition, which routes accept as a free-form draft but document as ``Workflow``).
DOCUMENTED_MODELS: dict[str, type[BaseModel]] = {}


def documented_as(model: type[BaseModel]) -> WithJsonSchema:
    """Annotate a free-form field (``Annotated[dict[str, Any], documented_as(Workflow)]``) so
    OpenAPI shows ``model``'s full schema (with its sub-schemas) instead of ``object``."""
    DOCUMENTED_MODELS[model.__name__] = model
    # pydantic resolves every $ref it sees, so mark the spot; ``_link_documented`` swaps in
    # the $ref once the document is built.
    return WithJsonSchema({_MARK: model.__name__})


_MARK = "x-documented-as"


def _link_documented(node: Any) -> Any:
    """Replace ``documented_as`` marks with references to the documented model."""
    if isinstance(node, dict):
        if set(node) == {_MARK}:
            return {"$ref": REF.format(model=node[_MARK])}
        return {key: _link_documented(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_link_documented(value) for value in node]
    return node


class _Schemas:
    def __init__(self) -> None:
        self.components: dict[str, Any] = {"Error": ERROR_SCHEMA,
                                           "ErrorDetail": ERROR_DETAIL_SCHEMA}
        for model in DOCUMENTED_MODELS.values():
            self.input_ref(model)

    def ref(self, annotation: Any) -> dict[str, Any]:
        schema = TypeAdapter(annotation).json_schema(ref_template=REF, mode="serialization")
        self.components.update(schema.pop("$defs", {}))
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            name = annotation.__name__
            if self.components.get(name, schema) != schema:
                name += "Output"  # the same model is also a request body
            self.components[name] = schema
            return {"$ref": REF.format(model=name)}
        return schema

    def input_ref(self, model: type[BaseModel]) -> dict[str, Any]:
        schema = model.model_json_schema(ref_template=REF, mode="validation")
        self.components.update(schema.pop("$defs", {}))
        name = model.__name__
        if self.components.get(name, schema) != schema:
            name += "Input"  # the same model is also a response, documented differently
        self.components[name] = schema
        return {"$ref": REF.format(model=name)}


_STATUS_TEXT = {
    400: "Bad request",
    404: "Not found",
    409: "Conflict with the resource's current state",
    429: "Too many requests: retry later",
    502: "An upstream service failed",
    503: "Unavailable (e.g. the instance is draining)",
}


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


_CONVERTOR_SCHEMAS: dict[str, dict[str, Any]] = {
    "": {"type": "string"},
    "str": {"type": "string"},
    "uuid": {"type": "string", "format": "uuid"},
    "int": {"type": "integer", "minimum": 0, "maximum": INT32_MAX},
}


def _path_parameters(path: str) -> list[dict[str, Any]]:
    return [
        {"name": name, "in": "path", "required": True,
         "schema": dict(_CONVERTOR_SCHEMAS.get(convertor, {"type": "string"}))}
        for name, convertor in _PATH_PARAM.findall(path)
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
        query_schema = ep.query.model_json_schema(ref_template=REF, mode="validation")
        schemas.components.update(query_schema.pop("$defs", {}))
        for name, field in ep.query.model_fields.items():
            key = field.alias or name
            params.append(
                {
                    "name": key,
                    "in": "query",
                    "required": field.is_required(),
                    "description": field.description or "",
                    "schema": query_schema["properties"][key],
                }
            )
    if params:
        op["parameters"] = params
    if ep.body is not None:
        op["requestBody"] = {
            "required": any(f.is_required() for f in ep.body.model_fields.values()),
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
    responses["422"] = _error(
        "Validation error: `details` has one `{pointer, code, message}` per problem; unknown "
        "fields, NUL characters and out-of-range integers are refused too"
    )
    if ep.body is not None or ep.method in ("POST", "PUT", "PATCH", "DELETE"):
        responses["400"] = _error("The body is not valid JSON (or nested too deeply)")
        responses["413"] = _error("The body is larger than the server accepts")
    if ep.auth is not None:
        responses["401"] = _error("Missing, invalid or expired credentials")
        responses["403"] = _error("Authenticated but lacking the role")
    if "{" in ep.path:
        responses["404"] = _error("Not found (or belongs to another organization)")
    for status, model in ep.also.items():
        responses[str(status)] = {
            "description": "Success",
            "content": {"application/json": {"schema": schemas.ref(model)}},
        }
    for status in ep.errors:
        responses.setdefault(str(status), _error(_STATUS_TEXT.get(status, "Error")))
    op["responses"] = responses
    return op


def _raw_operation(doc: RawDoc) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": doc.summary, "tags": list(doc.tags)}
    if doc.description:
        op["description"] = doc.description
    params = _path_parameters(doc.path)
    if params:
        op["parameters"] = params
    # Raw routes answer in their own formats (TwiML, files, websockets): no JSON schema.
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
    return _link_documented({
        "openapi": "3.1.0",
        "info": {
            "title": "Switchboard API",
            "version": version,
            "description": "Self-hostable real-time voice agent server. Authenticate with "
            "`Authorization: Bearer <access token or sk_ API key>`. Every error is "
            '`{"error": {"code", "message", "details": [{"pointer", "code", "message"}]}}` '
            "(schema `Error`); `pointer` is an RFC 6901 JSON pointer such as `/body/email`. "
            "Unknown body or query fields are refused (422).",
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
    })
