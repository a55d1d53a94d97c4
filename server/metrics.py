"""Prometheus metrics (prometheus-client) and the ``/metrics`` endpoint.

With ``METRICS_TOKEN`` set, ``/metrics`` needs ``Authorization: Bearer <METRICS_TOKEN>``
(401 otherwise). In production without one it is not served (404): route names, call
counts and latencies are not for the public internet.
"""

from __future__ import annotations

import hmac

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest
from starlette.requests import Request
from starlette.responses import Response

HTTP_REQUESTS = Counter(
    "switchboard_http_requests_total", "HTTP requests", ["method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "switchboard_http_request_seconds",
    "HTTP request latency",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
ACTIVE_CALLS = Gauge("switchboard_active_calls", "Calls live on this instance", ["channel"])
CALLS_TOTAL = Counter("switchboard_calls_total", "Calls ended", ["channel", "end_reason"])


async def metrics_endpoint(request: Request) -> Response:
    settings = request.app.state.settings
    token = settings.metrics_token
    if token is None:
        if settings.env == "production":
            return Response("metrics need METRICS_TOKEN in production\n", status_code=404,
                            media_type="text/plain")
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        given.strip().encode(), token.encode()
    ):
        return Response("unauthorized\n", status_code=401, media_type="text/plain",
                        headers={"WWW-Authenticate": "Bearer"})
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
