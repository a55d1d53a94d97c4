"""Declarative JSON endpoints: one declaration drives parsing, auth, errors and OpenAPI.

A ``Router`` collects ``Endpoint``s. Each endpoint states its body/query models, response
model, status and minimum role; ``Endpoint.asgi`` turns it into a Starlette handler that
authenticates, validates, calls the handler with an ``ApiContext`` and serializes the result.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute

from server.errors import ApiError, unprocessable, validation_error
from server.json_body import check_int32, check_strings, parse_json

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
    stream_body: bool = False  # the handler reads the body itself (streamed uploads)

    errors: Sequence[int] = ()  # other statuses the handler answers (documented in OpenAPI)
    also: Mapping[int, Any] = field(default_factory=dict)  # other success statuses -> model

    def __post_init__(self) -> None:
        self.body = strict_model(self.body) if self.body is not None else None
        self.query = strict_model(self.query) if self.query is not None else None

    async def __call__(self, request: Request) -> Response:
        services: Services = request.app.state.services
        principal = await self.authorize(request, services)
        ctx = ApiContext(request=request, services=services, principal=principal)
        check_strings(request.path_params, location="path")
        check_int32(request.path_params, location="path")
        ctx.query = parse_query(request, self.query)
        limit = services.settings.max_body_bytes
        if self.body is not None:
            ctx.body = await parse_body(request, self.body, limit)
        elif request.method in _BODY_METHODS and not self.stream_body:
            await refuse_body_fields(request, limit)
        result = await self.handler(ctx)
        if isinstance(result, Response):
            return result
        if result is None:
            return Response(status_code=204 if self.status == 200 else self.status)
        return JSONResponse(dump(result), status_code=self.status)

    async def authorize(self, request: Request, services: Services) -> Principal | None:
        """Authenticate and check the role (the one place a route's access rule is applied)."""
        if self.auth is None:
            return None
        from server.auth.permissions import required_role
        from server.auth.principal import authenticate, require_role

        principal = await authenticate(request, services)
        if self.auth == "user" and principal.user_id is None:
            raise ApiError(403, "forbidden", "this action needs a user token, not an API key")
        require_role(principal, required_role(self.method, self.path, self.role))
        return principal


_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_STRICT: dict[type[BaseModel], type[BaseModel]] = {}


def strict_model(model: type[BaseModel]) -> type[BaseModel]:
    """``model`` refusing unknown top-level fields (a subclass with ``extra="forbid"``, same
    name and docs, so OpenAPI shows ``additionalProperties: false``)."""
    if model.model_config.get("extra") == "forbid":
        return model
    strict = _STRICT.get(model)
    if strict is None:
        namespace = {"model_config": ConfigDict(extra="forbid"), "__doc__": model.__doc__,
                     "__module__": model.__module__, "__qualname__": model.__qualname__}
        strict = _STRICT[model] = type(model.__name__, (model,), namespace)
    return strict


def parse_query(request: Request, model: type[BaseModel] | None) -> BaseModel | None:
    """The query string validated by ``model``; any parameter it does not declare is a 422."""
    params = dict(request.query_params)
    check_strings(params, location="query")
    if model is None:
        if params:
            name = next(iter(params))
            raise unprocessable("query", name, code="extra_forbidden",
                                message=f"unknown query parameter '{name}'")
        return None
    try:
        query = model.model_validate(params)
    except ValidationError as exc:
        raise validation_error(exc, "query") from None
    check_int32(_by_alias(query), location="query")
    return query


def _by_alias(value: BaseModel) -> dict[str, Any]:
    return {f.alias or n: getattr(value, n) for n, f in type(value).model_fields.items()}


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
    async for chunk in request.stream():  # a client gone mid-body: see server.middleware
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
        raise unprocessable("body", code="missing", message="request body is required")
    data = parse_json(raw)
    try:
        body = model.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc, "body") from None
    check_int32(_by_alias(body), location="body")
    return body


async def refuse_body_fields(request: Request, limit: int) -> None:
    """A route that takes no body accepts none, or an empty JSON object."""
    raw = await read_limited_body(request, limit)
    if not raw.strip():
        return
    data = parse_json(raw)
    if isinstance(data, dict) and data:
        name = next(iter(data))
        raise unprocessable("body", name, code="extra_forbidden",
                            message=f"unknown field '{name}': this route takes no body")
    if data != {}:
        raise unprocessable("body", code="extra_forbidden", message="this route takes no body")


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
