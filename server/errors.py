"""API errors and their one JSON shape: ``{"error": {"code", "message", "details"}}``."""

from __future__ import annotations

from typing import Any

import structlog
from pydantic import ValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse

log = structlog.get_logger(__name__)


class ApiError(Exception):
    """An error the client caused or should know about, rendered as the error shape."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: list[dict[str, Any]] | dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details if details is not None else []
        self.headers = headers


def not_found(resource: str) -> ApiError:
    return ApiError(404, "not_found", f"{resource} not found")


def conflict(message: str, field: str | None = None) -> ApiError:
    details = [{"field": field, "message": message}] if field else []
    return ApiError(409, "conflict", message, details)


def bad_request(message: str, field: str | None = None, code: str = "bad_request") -> ApiError:
    details = [{"field": field, "message": message}] if field else []
    return ApiError(400, code, message, details)


def unauthorized(message: str = "authentication required") -> ApiError:
    return ApiError(401, "unauthorized", message, headers={"WWW-Authenticate": "Bearer"})


def forbidden(message: str = "insufficient role for this action") -> ApiError:
    return ApiError(403, "forbidden", message)


def validation_error(exc: ValidationError, location: str) -> ApiError:
    """422 listing every invalid field with a dotted path (``body.members.0.email``)."""
    details = [
        {
            "field": ".".join(str(p) for p in (location, *err["loc"])),
            "message": err["msg"],
            "type": err["type"],
        }
        for err in exc.errors(include_url=False, include_input=False)
    ]
    first = details[0]["field"] if details else location
    return ApiError(422, "validation_error", f"invalid request: check {first}", details)


def error_response(exc: ApiError) -> JSONResponse:
    body = {"error": {"code": exc.code, "message": exc.message, "details": exc.details}}
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
