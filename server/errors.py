"""API errors and their one JSON shape.

Every error is ``{"error": {"code", "message", "details"}}`` where ``details`` is a list of
``{"pointer", "code", "message"}``: ``pointer`` is an RFC 6901 JSON pointer to what is wrong,
rooted at the part of the request it came from (``/body/email``, ``/query/limit``,
``/path/version``, ``/headers/authorization``) or, for ``workflow_invalid``, into the
workflow definition (``/nodes/2/prompt``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import structlog
from pydantic import ValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse

log = structlog.get_logger(__name__)


def json_pointer(*parts: object) -> str:
    """An RFC 6901 pointer from path segments (``json_pointer("body", "a/b")`` = ``/body/a~1b``)."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


@dataclass(frozen=True, slots=True)
class ErrorDetail:
    """One thing wrong with a request: where (a JSON pointer), a machine code, a sentence."""

    pointer: str
    code: str
    message: str

    def to_json(self) -> dict[str, str]:
        return asdict(self)


def detail(location: str, *path: object, code: str, message: str) -> ErrorDetail:
    """``detail("body", "email", code="taken", message=...)`` points at ``/body/email``."""
    return ErrorDetail(json_pointer(location, *path), code, message)


DetailLike = ErrorDetail | Mapping[str, Any]


class ApiError(Exception):
    """An error the client caused or should know about, rendered as the error shape."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: Sequence[DetailLike] | DetailLike | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        items = [details] if isinstance(details, ErrorDetail | Mapping) else details or ()
        self.details = [_normalize(d, code, message) for d in items]
        self.headers = headers


def _normalize(item: DetailLike, code: str, message: str) -> ErrorDetail:
    """Accept an ``ErrorDetail`` or a mapping with ``pointer`` (or a legacy dotted ``field``,
    ``body.email``) so the wire shape is the same whoever raised the error."""
    if isinstance(item, ErrorDetail):
        return item
    pointer = item.get("pointer")
    if pointer is None:
        field = str(item.get("field", ""))
        pointer = json_pointer(*field.split(".")) if field else ""
    return ErrorDetail(
        str(pointer), str(item.get("code") or item.get("type") or code),
        str(item.get("message") or message),
    )


def not_found(resource: str) -> ApiError:
    return ApiError(404, "not_found", f"{resource} not found")


def conflict(message: str, field: str | None = None, code: str = "conflict") -> ApiError:
    """409; ``field`` names the body field at fault (``"email"`` points at ``/body/email``)."""
    details = [detail("body", field, code=code, message=message)] if field else []
    return ApiError(409, code, message, details)


def bad_request(message: str, field: str | None = None, code: str = "bad_request",
                location: str = "query") -> ApiError:
    """400; ``field`` names the query (or ``location``) field at fault."""
    details = [detail(location, field, code=code, message=message)] if field else []
    return ApiError(400, code, message, details)


def unprocessable(location: str, *path: object, code: str, message: str) -> ApiError:
    """422 with one detail pointing at ``/location/path...``."""
    return ApiError(422, "validation_error", message,
                    [detail(location, *path, code=code, message=message)])


def unauthorized(message: str = "authentication required") -> ApiError:
    return ApiError(401, "unauthorized", message, headers={"WWW-Authenticate": "Bearer"})


def forbidden(message: str = "insufficient role for this action") -> ApiError:
    return ApiError(403, "forbidden", message)


# Tags pydantic adds to a location for discriminated unions; they are not part of the document.
_UNION_TAGS = frozenset({"http", "end_call", "transfer_call", "send_dtmf"})


def _sentence(message: str) -> str:
    """A validator's own message, without the "Value error, " pydantic puts before it."""
    return message.removeprefix("Value error, ").removeprefix("Assertion failed, ")


def validation_error(exc: ValidationError, location: str) -> ApiError:
    """422 listing every invalid field, each with a JSON pointer (``/body/members/0/email``)."""
    details = [
        ErrorDetail(
            json_pointer(location, *(p for p in err["loc"] if p not in _UNION_TAGS)),
            err["type"],
            _sentence(err["msg"]),
        )
        for err in exc.errors(include_url=False, include_input=False)
    ]
    first = details[0].pointer if details else "/" + location
    return ApiError(422, "validation_error", f"invalid request: check {first}", details)


def error_response(exc: ApiError) -> JSONResponse:
    body = {"error": {"code": exc.code, "message": exc.message,
                      "details": [d.to_json() for d in exc.details]}}
    return JSONResponse(body, status_code=exc.status, headers=exc.headers)


async def api_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(exc)


_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


async def http_exception_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    return error_response(ApiError(exc.status_code, code, str(exc.detail), headers=exc.headers))


async def unhandled_error_handler(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled_error", path=request.url.path)
    return error_response(ApiError(500, "internal_error", "internal server error"))
