"""Real fleet processes for the fleet test: ``switchboard serve`` instances and a
``switchboard worker`` on one PostgreSQL database and one Redis namespace, each with its own
data directory and log file; plus a customer webhook receiver counting deliveries."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
from pathlib import Path
from typing import Any

import httpx
from aiohttp import web
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.fakes import LoopbackServer

SWITCHBOARD = Path(sys.executable).parent / "switchboard"
# Environment variables a fleet process must not inherit from the test run.
_DROPPED = ("DATABASE_URL", "REDIS_URL", "REDIS_PREFIX", "DATA_DIR", "JWT_", "SECRET", "PORT",
            "HOST", "WORKERS", "ENV", "PUBLIC_URL", "CALL_", "SHUTDOWN_", "JOBS_")  # fmt: skip


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def base_env(**values: Any) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_DROPPED)}
    env.update({k.upper(): str(v) for k, v in values.items()})
    return env


def shared_keys() -> dict[str, str]:
    """Keys every instance of one fleet shares (a database refuses instances with others):
    ``JWT_PRIVATE_KEY`` and ``SECRET_KEYS``, for ``base_env(**shared_keys(), ...)``."""
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()).decode()  # fmt: skip
    return {"jwt_private_key": pem, "secret_keys": Fernet.generate_key().decode()}


class Process:
    """One fleet process, its output in ``<data_dir>/process.log``."""

    def __init__(self, name: str, command: list[str], env: dict[str, str], data_dir: Path,
                 port: int | None = None) -> None:  # fmt: skip
        self.name = name
        self.command = command
        self.env = dict(env, DATA_DIR=str(data_dir))
        self.data_dir = data_dir
        self.port = port
        self.proc: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> str:
        path = self.data_dir / "process.log"
        return path.read_text(errors="replace") if path.exists() else ""

    async def start(self) -> Process:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        args = [str(SWITCHBOARD), *self.command]
        if self.port is not None:
            args += ["--port", str(self.port)]
        with open(self.data_dir / "process.log", "ab") as out:
            # cwd: the data directory, so no developer .env is read
            self.proc = await asyncio.create_subprocess_exec(
                *args, env=self.env, cwd=self.data_dir, stdout=out, stderr=out,
                start_new_session=True,
            )  # fmt: skip
        return self

    async def ready(self, timeout: float = 180.0) -> None:
        """Wait until ``/health/ready`` answers 200 (raises with the log if it exits)."""
        async with httpx.AsyncClient(timeout=2) as http:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + timeout
            while loop.time() < deadline:
                assert self.proc is not None
                if self.proc.returncode is not None:
                    raise RuntimeError(f"{self.name} exited ({self.proc.returncode}):\n{self.log[-3000:]}")
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get(self.url + "/health/ready")).status_code == 200:
                        return
                await asyncio.sleep(0.2)
        raise TimeoutError(f"{self.name} not ready:\n{self.log[-3000:]}")

    def signal(self, sig: signal.Signals) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    async def wait(self, timeout: float) -> int:
        """The exit code; AssertionError (with the log) when still running after ``timeout``."""
        assert self.proc is not None
        try:
            return await asyncio.wait_for(self.proc.wait(), timeout)
        except TimeoutError:
            log = self.log[-3000:]
            raise AssertionError(f"{self.name} still running after {timeout} s:\n{log}") from None

    def kill(self) -> None:
        """SIGKILL: the process dies at once, mid-whatever (no shutdown, no drain)."""
        self.signal(signal.SIGKILL)

    def count(self, text: str) -> int:
        """How often ``text`` occurs in the process's log (e.g. a log event's name)."""
        return self.log.count(text)

    async def stop(self) -> None:
        if self.proc is None or self.proc.returncode is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self.proc.wait(), 30)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()


class Receiver(LoopbackServer):
    """A customer's webhook endpoint: accepts every delivery, records each request."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[dict[str, Any]] = []
        self.app.router.add_post("/hook", self._hook)

    async def _hook(self, request: web.Request) -> web.Response:
        body = await request.json()
        body["delivery"] = request.headers.get("X-Switchboard-Delivery")
        self.requests.append(body)
        return web.Response(status=200)

    def ended(self, call_id: str) -> list[dict[str, Any]]:
        return [r for r in self.requests
                if r["type"] == "call.ended" and r["data"].get("call_id") == call_id]  # fmt: skip
