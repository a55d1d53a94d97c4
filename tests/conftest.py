"""Shared fixtures: a fresh database per run, a live server on a random port, users.

Real servers only: ``DATABASE_URL`` when set (a new database is created on it for this run
and dropped afterwards), otherwise an embedded PostgreSQL in a temporary directory.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pytest
import uvicorn

# Tests never talk to real providers: drop any provider credentials from the environment.
for _name in list(os.environ):
    if _name.startswith(("DEEPGRAM_", "OPENAI_", "ELEVENLABS_", "CARTESIA_", "TWILIO_",
                         "TELNYX_", "PLIVO_", "VONAGE_", "EXOTEL_", "STRIPE_")):
        del os.environ[_name]

from db.embedded import EmbeddedPostgres  # noqa: E402
from db.migrate import migrate_url  # noqa: E402
from server.app import create_app  # noqa: E402
from server.http_protocol import http_protocol_options  # noqa: E402
from server.services import Services  # noqa: E402
from server.settings import Settings  # noqa: E402

TIERS = ("unit", "integration", "realtime")
TESTS_ROOT = Path(__file__).parent


@pytest.hookimpl(tryfirst=True)  # before ``-m`` deselects by marker
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every test belongs to exactly one tier: the folder it lives in (``tests/<tier>/...``)
    or, outside the tier folders (``tests/security/``), its module's own ``pytestmark``.
    A module with no tier, or with two, fails collection."""
    problems: set[str] = set()
    for item in items:
        relative = Path(str(item.path)).resolve().relative_to(TESTS_ROOT.resolve())
        folder_tier = relative.parts[0] if relative.parts[0] in TIERS else None
        if folder_tier is not None:
            item.add_marker(folder_tier)
        marked = {tier for tier in TIERS if item.get_closest_marker(tier) is not None}
        if len(marked) != 1:
            problems.add(f"{relative}: tiers {sorted(marked) or 'none'}")
    if problems:
        raise pytest.UsageError(
            "every test module needs exactly one tier (unit, integration or realtime): live in "
            "tests/<tier>/ or set pytestmark = pytest.mark.<tier>:\n  " + "\n  ".join(sorted(problems))
        )


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


@pytest.fixture(scope="session")
def run_dir() -> Iterator[Path]:
    """This run's scratch directory. Not pytest's tmp_path: pytest prunes old numbered
    directories, which would pull the data out from under a concurrent run."""
    path = Path(tempfile.mkdtemp(prefix="switchboard-test-"))
    path.chmod(0o755)  # the embedded PostgreSQL runs as an unprivileged user when we are root
    yield path
    shutil.rmtree(path, ignore_errors=True)


async def _admin(database_url: str, sql: str) -> None:
    admin = await asyncpg.connect(database_url)
    try:
        await admin.execute(sql)
    finally:
        await admin.close()


@contextlib.asynccontextmanager
async def own_database(database_url: str, prefix: str, *, migrate: bool = True) -> AsyncIterator[str]:
    """A database of its own beside ``database_url``'s (migrated unless told not to), dropped
    afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    await _admin(database_url, f'CREATE DATABASE "{name}"')
    url = _with_database(database_url, name)
    try:
        if migrate:
            await migrate_url(url)
        yield url
    finally:
        await _admin(database_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.asynccontextmanager
async def fresh_database(database_url: str, prefix: str) -> AsyncIterator[str]:
    """A migrated database of its own beside ``database_url``'s, dropped afterwards: for tests
    whose data other servers on the shared test database must not see (or touch)."""
    async with own_database(database_url, prefix) as url:
        yield url


@pytest.fixture(scope="session")
async def database_url(run_dir: Path) -> AsyncIterator[str]:
    base = os.environ.get("DATABASE_URL")
    embedded = None
    if not base:
        embedded = EmbeddedPostgres(run_dir / "postgres")
        base = await embedded.start()
    async with own_database(base, "sb_test", migrate=False) as url:  # the app migrates it
        yield url
    if embedded is not None:
        await embedded.stop()


@pytest.fixture(scope="session")
def data_dir(run_dir: Path) -> Path:
    path = run_dir / "data"
    path.mkdir()
    return path


CARRIER_APIS = ("twilio", "telnyx", "plivo", "vonage", "exotel")
CLOSED_PORT_URL = "http://127.0.0.1:9"  # the discard port: nothing listens on it here


def make_settings(database_url: str, data_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "env": "test",
        "database_url": database_url,
        "data_dir": data_dir,
        "redis_url": None,
        "log_level": "warning",
        "shutdown_grace_seconds": 2.0,
        # the session's servers do not sweep other tests' unfinished calls (their post-call
        # jobs would run in later tests' windows); the fleet tests set their own bound
        "call_lost_after_seconds": 3600.0,
        "public_url": None,
        "allow_private_urls": True,  # providers and tools are fakes on 127.0.0.1
        # no carrier REST request leaves the machine: a test that needs a carrier's API
        # points it at a fake; others reach a closed port (a phone number's ownership check
        # then reads as "could not verify") instead of the carrier's real API
        **{f"{c}_api_base_url": CLOSED_PORT_URL for c in CARRIER_APIS},
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture(scope="session")
def settings(database_url: str, data_dir: Path) -> Settings:
    return make_settings(database_url, data_dir)


@dataclass
class LiveServer:
    url: str
    app: Any
    server: uvicorn.Server
    task: asyncio.Task[Any]
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def services(self) -> Services:
        return self.app.state.services

    @property
    def ws_url(self) -> str:
        return "ws" + self.url[len("http"):]


@contextlib.asynccontextmanager
async def run_server(settings: Settings) -> AsyncIterator[LiveServer]:
    """Serve ``create_app(settings)`` with uvicorn on a random loopback port."""
    app = create_app(settings)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(  # the HTTP protocol production runs (server/http_protocol.py)
        app, log_config=None, lifespan="on", ws_max_size=262_144, timeout_graceful_shutdown=5,
        **http_protocol_options(),
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("server stopped during start-up")
        await asyncio.sleep(0.02)
    live = LiveServer(f"http://127.0.0.1:{port}", app, server, task)
    try:
        yield live
    finally:
        server.should_exit = True
        await task
        sock.close()


@pytest.fixture(scope="session")
async def server(settings: Settings) -> AsyncIterator[LiveServer]:
    async with run_server(settings) as live:
        yield live


@pytest.fixture
async def client(server: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        yield http


@dataclass
class TestUser:
    email: str
    password: str
    user_id: str
    organization_id: str
    access_token: str
    refresh_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


@pytest.fixture
def make_user(client: httpx.AsyncClient) -> Callable[..., Awaitable[TestUser]]:
    """Sign up a new user with a fresh organization (or via ``invite_token``)."""

    async def make(**extra: Any) -> TestUser:
        email = extra.pop("email", None) or f"user-{uuid.uuid4().hex[:10]}@example.com"
        password = extra.pop("password", "correct horse battery")
        body = {"email": email, "password": password, **extra}
        response = await client.post("/api/v1/auth/signup", json=body)
        assert response.status_code == 201, response.text
        data = response.json()
        return TestUser(
            email=email,
            password=password,
            user_id=data["user_id"],
            organization_id=data["organization_id"],
            access_token=data["access_token"],
            refresh_token=data["refresh_token"],
        )

    return make


@pytest.fixture(scope="session")
def redis_url() -> str:
    """A reachable Redis (``REDIS_URL`` or 127.0.0.1:6379), else the test is skipped."""
    url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 6379), 1):
            pass
    except OSError as exc:
        pytest.skip(f"Redis not reachable at {url}: {exc}")
    return url


@pytest.fixture(scope="session")
def redis_prefix() -> str:
    """A key namespace unique to this test run, so concurrent runs never see each other."""
    return f"sbtest-{uuid.uuid4().hex[:10]}"
