"""The Starlette application factory and its lifespan (database, keys, coordination)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import structlog
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from db.crypto import SecretBox, load_or_create_key
from db.embedded import EmbeddedPostgres
from db.migrate import migrate_url
from db.pool import create_pool
from server.auth.tokens import TokenSigner, load_private_key
from server.calls.drain import drain_calls, drain_on_sigterm
from server.calls.live import LiveCalls
from server.console_feed import start_console_feed
from server.coordination import InProcessBus, InProcessLimiter, fleet
from server.coordination.replay import ReplayGuard
from server.coordination.shared_keys import KeysDiffer, check_shared_keys
from server.egress import egress_policy
from server.errors import (
    ApiError,
    api_error_handler,
    http_exception_handler,
    unhandled_error_handler,
)
from server.log_config import configure_logging
from server.middleware import RequestContextMiddleware
from server.openapi import build_openapi
from server.recordings import Recordings
from server.routes import all_routers
from server.security_headers import security_headers
from server.services import Services
from server.settings import Settings, SettingsError, load_settings
from server.tracing import configure_tracing, shutdown_tracing

log = structlog.get_logger(__name__)
STATIC = Path(__file__).resolve().parent / "static"

# Subsystems that live as long as the server (job worker, ...): each is called with the
# Services and returns an async context manager entered at start-up, exited at shutdown.
LifespanHook = Callable[[Services], AbstractAsyncContextManager[object]]
LIFESPAN_HOOKS: list[LifespanHook] = []


def _job_worker(services: Services) -> AbstractAsyncContextManager[object]:
    from server.jobs import job_worker  # post-call analysis and webhooks (JOBS_ENABLED)

    return job_worker(services)


LIFESPAN_HOOKS.append(_job_worker)


@contextlib.asynccontextmanager
async def _campaigns(services: Services) -> AsyncIterator[None]:
    """Every instance dispatches campaigns from start-up; the dispatcher stops with the
    server (its dials in flight are re-sent, with their keys, by any instance once their
    lease ends)."""
    from server.campaigns.dispatcher import dispatcher_for

    dispatcher_for(services).ensure_running()
    yield
    await _stop_campaigns(services)


LIFESPAN_HOOKS.append(_campaigns)


def _warmup(services: Services) -> AbstractAsyncContextManager[object]:
    from server.warmup import warmup  # speech models loaded before the first call

    return warmup(services)


LIFESPAN_HOOKS.append(_warmup)


def _recording_uploads(services: Services) -> AbstractAsyncContextManager[object]:
    from server.recordings.service import recording_uploads  # resume spooled uploads

    return recording_uploads(services)


LIFESPAN_HOOKS.append(_recording_uploads)


def app_version() -> str:
    try:
        return version("switchboard")
    except PackageNotFoundError:
        return "0.0.0"


async def _coordination(settings: Settings, stack: AsyncExitStack):  # type: ignore[no-untyped-def]
    if not settings.redis_url:
        return None, InProcessLimiter(), InProcessBus()
    from redis.asyncio import Redis

    redis = Redis.from_url(settings.redis_url)
    stack.push_async_callback(redis.aclose)
    await redis.ping()
    try:
        from server.coordination.redis_bus import RedisBus
        from server.coordination.redis_limiter import RedisLimiter
    except ImportError:
        log.warning("redis_coordination_unavailable", detail="using in-process coordination")
        return redis, InProcessLimiter(), InProcessBus()
    bus = RedisBus(redis, prefix=settings.redis_prefix)
    stack.push_async_callback(bus.close)
    return redis, RedisLimiter(redis, prefix=settings.redis_prefix), bus


@contextlib.asynccontextmanager
async def open_services(settings: Settings) -> AsyncIterator[Services]:
    """Database (embedded when no DATABASE_URL), migrations, keys, coordination."""
    async with AsyncExitStack() as stack:
        if configure_tracing(settings):  # OTEL_EXPORTER_OTLP_ENDPOINT set
            stack.callback(shutdown_tracing)
        url = settings.database_url
        if url is None:
            embedded = EmbeddedPostgres(settings.data_dir / "postgres")
            url = await embedded.start()
            stack.push_async_callback(embedded.stop)
            log.info("embedded_postgres_started", data_dir=str(embedded.data_dir))
        if settings.migrate_on_start:
            applied = await migrate_url(url)
            if applied:
                log.info("migrations_applied", migrations=applied)
        pool = await create_pool(url, min_size=settings.db_pool_min, max_size=settings.db_pool_max)
        stack.push_async_callback(pool.close)
        jwt_key = load_private_key(settings.jwt_private_key, settings.data_dir)
        signer = TokenSigner(
            jwt_key,
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            ttl=settings.access_token_ttl_seconds,
        )
        secrets_key = load_or_create_key(settings.secrets_key, settings.data_dir)
        box = SecretBox(secrets_key)
        await _check_shared_keys(pool, jwt_key, secrets_key)
        redis, limiter, bus = await _coordination(settings, stack)
        recordings = Recordings(settings, pool)
        stack.push_async_callback(recordings.close)  # after the hooks: uploads may finish
        services = Services(
            settings=settings, db=pool, signer=signer, secret_box=box,
            limiter=limiter, bus=bus, redis=redis, egress=egress_policy(settings),
            replay_guard=ReplayGuard(redis, prefix=settings.redis_prefix),
            live_calls=LiveCalls(limit=settings.max_live_calls), recordings=recordings,
            instance_id=fleet.instance_id(),
        )
        # A campaign dispatcher started by anything (the lifespan, the job worker's schedule
        # in ``switchboard worker``) stops before the pool closes, never ticks against it.
        stack.push_async_callback(_stop_campaigns, services)
        services.console_feed = await start_console_feed(services)
        stack.push_async_callback(services.console_feed.close)
        await stack.enter_async_context(fleet.instance(services))  # heartbeat, sweeper
        yield services


async def _stop_campaigns(services: Services) -> None:
    if services.campaigns is not None:
        await services.campaigns.stop()


async def _check_shared_keys(pool: Any, jwt_key: Any, secrets_key: str) -> None:
    """Refuse to start with keys other than the fleet's (docs/FLEET.md)."""
    try:
        await check_shared_keys(pool, jwt_key, secrets_key)
    except KeysDiffer as exc:
        log.error("shared_keys_differ", detail=str(exc))
        raise SettingsError(str(exc)) from None


async def drain(services: Services) -> None:
    """Stop taking new calls, let live ones end (``server.calls.drain``), stop background
    work."""
    await drain_calls(services)
    await services.stop_background()


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or load_settings()
    configure_logging(settings)
    routers = all_routers()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with open_services(settings) as services, AsyncExitStack() as hooks:
            app.state.services = services
            services.egress = egress_policy(settings, app)  # + its /demo/ routes in-process
            for hook in LIFESPAN_HOOKS:
                await hooks.enter_async_context(hook(services))
            log.info("server_started", version=app_version(), instance=services.instance_id)
            with drain_on_sigterm(services):  # SIGTERM: drain calls before uvicorn stops
                try:
                    yield
                finally:
                    await drain(services)

    routes = [r for router in routers for r in router.routes()]
    routes.append(Mount("/static", StaticFiles(directory=STATIC), name="static"))
    app = Starlette(
        routes=routes,
        middleware=[Middleware(RequestContextMiddleware), security_headers(settings)],
        exception_handlers={
            ApiError: api_error_handler,
            HTTPException: http_exception_handler,
            Exception: unhandled_error_handler,
        },
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.openapi = build_openapi(routers, version=app_version())
    return app
