"""Declarative JSON endpoints: one declaration drives parsing, auth, errors and OpenAPI.

A ``Router`` collects ``Endpoint``s. Each endpoint states its body/query models, response
model, status and minimum role; ``Endpoint.asgi`` turns it into a Starlette handler that
authenticates, validates, calls the handler with an ``ApiContext`` and serializes the result.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute

from server.errors import ApiError, validation_error

if TYPE_CHECKING:
    import asyncpg

    from server.auth.principal import Principal
    from server.services import Services

Role = Literal["member", "admin", "owner"]
Auth = Literal["any", "user"] | None
Handler = Callable[["ApiContext"], Awaitable[Any]]


@dataclass(slots=True)
class ApiContext:
    """Everything a handler needs: the request, the caller and validated input."""

    request: Request
    services: Services
    principal: Principal | None
    body: Any = None
    query: Any = None

    @property
    def path(self) -> dict[str, Any]:
        return self.request.path_params

    @property
    def db(self) -> asyncpg.Pool:
        return self.services.db

    @property
    def caller(self) -> Principal:
        """The authenticated principal (handlers of authenticated routes use this)."""
        assert self.principal is not None
        return self.principal


@dataclass(slots=True)
class Endpoint:
    method: str
    path: str
    handler: Handler
    summary: str
    description: str = ""
    tags: Sequence[str] = ()
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    response: Any = None
    status: int = 200
    auth: Auth = "any"
    role: Role = "member"
    raw: bool = False  # handler gets the ApiContext and returns a Starlette Response

    async def __call__(self, request: Request) -> Response:
        services: Services = request.app.state.services
        principal = None
        if self.auth is not None:
            from server.auth.permissions import required_role
            from server.auth.principal import authenticate, require_role

            principal = await authenticate(request, services)
            if self.auth == "user" and principal.user_id is None:
                raise ApiError(403, "forbidden", "this action needs a user token, not an API key")
            require_role(principal, required_role(self.method, self.path, self.role))
        ctx = ApiContext(request=request, services=services, principal=principal)
        if self.query is not None:
            try:
                ctx.query = self.query.model_validate(dict(request.query_params))
            except ValidationError as exc:
                raise validation_error(exc, "query") from None
        if self.body is not None:
            ctx.body = await parse_body(request, self.body, services.settings.max_body_bytes)
        result = await self.handler(ctx)
        if isinstance(result, Response):
            return result
        if result is None:
            return Response(status_code=204 if self.status == 200 else self.status)
        return JSONResponse(dump(result), status_code=self.status)


def dump(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, list):
        return [dump(v) for v in value]
    return value


async def read_limited_body(request: Request, limit: int) -> bytes:
    """Read the request body, refusing more than ``limit`` bytes (413) without buffering it."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, "payload_too_large", f"request body over {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, "payload_too_large", f"request body over {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def parse_body(request: Request, model: type[BaseModel], limit: int) -> BaseModel:
    raw = await read_limited_body(request, limit)
    if not raw.strip():
        if not any(f.is_required() for f in model.model_fields.values()):
            return model.model_validate({})  # every field optional: no body means defaults
        raise ApiError(
            422, "validation_error", "request body is required", [{"field": "body"}]
        )
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ApiError(
            400, "invalid_json", f"request body is not valid JSON: {exc}", [{"field": "body"}]
        ) from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc, "body") from None


@dataclass
class RawDoc:
    """OpenAPI description of a non-JSON route (websockets, webhooks, files)."""

    method: str
    path: str
    summary: str
    description: str = ""
    tags: Sequence[str] = ()
    responses: dict[str, str] = field(default_factory=lambda: {"200": "OK"})


class Router:
    """Collects a module's endpoints; ``routes()`` gives Starlette routes."""

    def __init__(self, tags: Sequence[str] = ()) -> None:
        self.tags = list(tags)
        self.endpoints: list[Endpoint] = []
        self.raw_routes: list[BaseRoute] = []
        self.raw_docs: list[RawDoc] = []

    def add(self, method: str, path: str, **options: Any) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            summary = options.pop("summary", None) or (handler.__doc__ or path).strip()
            tags = options.pop("tags", None) or self.tags
            self.endpoints.append(
                Endpoint(method, path, handler, summary=summary, tags=tags, **options)
            )
            return handler

        return register

    def get(self, path: str, **options: Any) -> Callable[[Handler], Handler]:
        return self.add("GET", path, **options)

    def post(self, path: str, **options: Any) -> Callable[[Handler], Handler]:
        return self.add("POST", path, **options)

    def put(self, path: str, **options: Any) -> Callable[[Handler], Handler]:
        return self.add("PUT", path, **options)

    def patch(self, path: str, **options: Any) -> Callable[[Handler], Handler]:
        return self.add("PATCH", path, **options)

    def delete(self, path: str, **options: Any) -> Callable[[Handler], Handler]:
        return self.add("DELETE", path, **options)

    def raw_route(
        self, path: str, endpoint: Callable[..., Any], *, methods: Sequence[str], doc: RawDoc
    ) -> None:
        """A plain Starlette route (TwiML, files, pages) that still appears in the docs."""
        self.raw_routes.append(Route(path, endpoint, methods=list(methods)))
        self.raw_docs.append(doc)

    def websocket(self, path: str, endpoint: Callable[..., Any], *, doc: RawDoc) -> None:
        self.raw_routes.append(WebSocketRoute(path, endpoint))
        self.raw_docs.append(doc)

    def routes(self) -> list[BaseRoute]:
        grouped: dict[str, dict[str, Endpoint]] = {}
        for ep in self.endpoints:
            grouped.setdefault(ep.path, {})[ep.method] = ep
        out: list[BaseRoute] = []
        for path, by_method in grouped.items():
            out.append(Route(path, _dispatch(by_method), methods=list(by_method)))
        return out + self.raw_routes


def _dispatch(by_method: dict[str, Endpoint]) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        method = "GET" if request.method == "HEAD" else request.method
        return await by_method[method](request)

    return endpoint
