"""Structured logging: JSON in production, readable in development, request id on every line.

stdlib logging (uvicorn, asyncpg) and loguru (pipecat) are routed through the same
structlog renderer. Values under secret-looking keys are redacted.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog
from loguru import logger as loguru_logger
from opentelemetry import trace

from server.settings import Settings

_SECRET_KEYS = ("password", "token", "secret", "authorization", "api_key", "apikey", "cookie")


def redact_secrets(_: Any, __: str, event: dict[str, Any]) -> dict[str, Any]:
    for key in event:
        if any(part in key.lower() for part in _SECRET_KEYS):
            event[key] = "[redacted]"
    return event


class WebsocketQueryRedactor(logging.Filter):
    """Drop the query string from uvicorn's websocket lines (``'%s - "WebSocket %s" ...'``
    on ``uvicorn.error``): a carrier's media URL can carry its single-use stream token there."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and '"WebSocket %s"' in record.msg and \
                isinstance(record.args, tuple) and len(record.args) >= 2:
            path = str(record.args[1])
            if "?" in path:
                record.args = (record.args[0], path.split("?", 1)[0] + "?[redacted]",
                               *record.args[2:])
        return True


class _LoguruToStdlib:
    """A loguru sink forwarding pipecat's records into stdlib logging."""

    def write(self, message: Any) -> None:
        record = message.record
        logging.getLogger(record["name"] or "pipecat").log(
            record["level"].no, record["message"].rstrip()
        )


def add_trace_ids(_logger: Any, _method: str, event: MutableMapping[str, Any]
                  ) -> MutableMapping[str, Any]:
    """structlog processor: ``trace_id``/``span_id`` of the current span (a traced call)."""
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        event.setdefault("trace_id", format(context.trace_id, "032x"))
        event.setdefault("span_id", format(context.span_id, "016x"))
    return event


def configure_logging(settings: Settings) -> None:
    level = getattr(logging, settings.log_level.upper())
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redact_secrets,
        add_trace_ids,  # trace_id/span_id when a span is current (a traced call)
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if settings.json_logs
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler()
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    error_log = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, WebsocketQueryRedactor) for f in error_log.filters):
        error_log.addFilter(WebsocketQueryRedactor())
    # Access lines are logged by our middleware with the request id.
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    # pipecat logs a lot at DEBUG (some of it per frame): keep it at WARNING unless debugging.
    loguru_logger.remove()
    pipecat_level = "DEBUG" if settings.log_level == "debug" else "WARNING"
    loguru_logger.add(_LoguruToStdlib(), level=pipecat_level, format="{message}")
