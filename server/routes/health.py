"""Liveness, readiness, metrics, JWKS and API docs."""

from __future__ import annotations

import asyncio
from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from db import health as db_health
from server.api import RawDoc, Router
from server.metrics import metrics_endpoint

router = Router(tags=["system"])
STATIC = Path(__file__).resolve().parent.parent / "static"


async def live(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def ready(request: Request) -> Response:
    services = request.app.state.services
    if services.draining:
        return JSONResponse({"status": "draining", "database": "unknown"}, status_code=503)
    try:
        async with asyncio.timeout(2):
            await db_health.ping(services.db)
    except Exception as exc:
        return JSONResponse(
            {"status": "unavailable", "database": type(exc).__name__}, status_code=503
        )
    return JSONResponse({"status": "ok", "database": "ok", "warm": services.warm})


async def jwks(request: Request) -> Response:
    return JSONResponse(request.app.state.services.signer.jwks())


async def openapi_json(request: Request) -> Response:
    return JSONResponse(request.app.state.openapi)


async def docs_page(request: Request) -> Response:
    return HTMLResponse((STATIC / "docs.html").read_text())


router.raw_route(
    "/health/live", live, methods=["GET"],
    doc=RawDoc("GET", "/health/live", "Liveness: the process is up", tags=["system"]),
)
router.raw_route(
    "/health/ready", ready, methods=["GET"],
    doc=RawDoc(
        "GET", "/health/ready", "Readiness: the database answers and the instance is not draining",
        tags=["system"], responses={"200": "Ready", "503": "Not ready"},
    ),
)
router.raw_route(
    "/metrics", metrics_endpoint, methods=["GET"],
    doc=RawDoc("GET", "/metrics", "Prometheus metrics (text exposition format)", tags=["system"]),
)
router.raw_route(
    "/.well-known/jwks.json", jwks, methods=["GET"],
    doc=RawDoc("GET", "/.well-known/jwks.json", "Public keys that verify access tokens",
               tags=["auth"]),
)
router.raw_route(
    "/openapi.json", openapi_json, methods=["GET"],
    doc=RawDoc("GET", "/openapi.json", "This OpenAPI 3.1 document", tags=["system"]),
)
router.raw_route(
    "/docs", docs_page, methods=["GET"],
    doc=RawDoc("GET", "/docs", "Interactive API documentation (Swagger UI)", tags=["system"]),
)
