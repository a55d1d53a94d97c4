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
# for the autoscaler: calls this instance carries (running pipelines and admitted calls whose
# media has not arrived) against its MAX_LIVE_CALLS (0: no per-instance cap)
LIVE_CALLS = Gauge("switchboard_live_calls", "Calls live on this instance (all channels)")
MAX_LIVE_CALLS = Gauge("switchboard_max_live_calls", "MAX_LIVE_CALLS of this instance (0: none)")
DRAINING = Gauge("switchboard_draining", "1 while this instance drains (SIGTERM)")
LOST_CALLS = Counter("switchboard_lost_calls_total", "Calls of lost instances finalized by the sweeper")
# a 10 ms ticker's lateness: how long the event loop was held up (callers hear gaps)
LOOP_LAG = Histogram(
    "switchboard_event_loop_lag_seconds", "Lateness of a 10 ms event-loop ticker",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28),
)
LOOP_LAG_MAX = Gauge("switchboard_event_loop_lag_max_seconds",
                     "Largest event-loop ticker lateness in the last window (10 s)")
DB_POOL_SIZE = Gauge("switchboard_db_pool_size", "Open connections of the database pool")
DB_POOL_IN_USE = Gauge("switchboard_db_pool_in_use", "Database pool connections checked out")
DB_POOL_MAX = Gauge("switchboard_db_pool_max", "DB_POOL_MAX of this instance")
LOOP_STALLS = Counter("switchboard_event_loop_stalls_total",
                      "Event-loop ticks more than 50 ms late (logged as event_loop_stall)")
# the garbage collector runs on the event-loop thread: a long collection is a loop stall
GC_PAUSE = Histogram(
    "switchboard_gc_pause_seconds", "Garbage-collector pauses by generation", ["generation"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64),
)
GC_COLLECTED = Counter("switchboard_gc_collected_objects_total",
                       "Objects freed by the garbage collector (cyclic garbage)", ["generation"])


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
