"""Start a real ``switchboard serve`` for the benchmark and provision it over its HTTP API.

The server runs pinned to one core with the embedded PostgreSQL in a scratch data
directory, Deepgram/OpenAI keys and base URLs pointing at ``tests/fakes/providers.py``. One
organization gets a Twilio carrier account (the auth token the load generator signs with),
a phone number routed to a published workflow whose LLM is the fake OpenAI-compatible
endpoint, provider settings for Deepgram STT (Nova for local Smart Turn, Flux for
provider end-of-turn) + OpenAI TTS, and the scale plan's concurrency limit (500: the server
runs with `DEFAULT_PLAN=scale`).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.processes import PY, ROOT, Server, free_port, pinned, wait_port

ACCOUNT_SID = "AC" + "b" * 32
AUTH_TOKEN = "bench-twilio-auth-token"  # noqa: S105  (a credential of the fake carrier)
NUMBER = "+14155550123"

WORKFLOW = {
    "nodes": [
        {
            "id": "start",
            "type": "start",
            "greeting": "Sure, I can help with that. What time would you like?",
            "prompt": "You are a helpful restaurant booking assistant. Keep answers short.",
        },
        {"id": "bye", "type": "end", "say": "Goodbye."},
    ],
    "edges": [{"from": "start", "to": "bye", "condition": "the caller says goodbye"}],
}


def _check(resp: httpx.Response) -> dict:
    if resp.status_code >= 300:
        raise RuntimeError(
            f"{resp.request.method} {resp.request.url.path}: {resp.status_code} {resp.text[:300]}"
        )
    return resp.json() if resp.content else {}


@dataclass(frozen=True)
class Fleet:
    """``WORKERS`` server processes on one port, sharing a PostgreSQL database and a Redis
    (the fleet-wide limiter of docs/FLEET.md needs Redis with more than one worker)."""

    workers: int
    database_url: str
    redis_url: str
    redis_prefix: str

    def env(self) -> dict[str, str]:
        return {
            "WORKERS": str(self.workers),
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "REDIS_PREFIX": self.redis_prefix,
        }


@dataclass(frozen=True)
class Provisioned:
    """What the load generator needs to call the benchmark's tenant over WebRTC."""

    workflow_id: str
    api_key: str


async def provision_async(
    http: httpx.AsyncClient, turn: str, fakes: str, *, number: str = NUMBER, max_calls: int = 500
) -> Provisioned:
    """Sign up an organization on the server ``http`` points at and route ``number`` to a
    published workflow on the fake providers (``turn``: "smart-turn" or "flux"); an API key
    for its WebRTC offers."""
    email = f"bench-{uuid.uuid4().hex[:8]}@example.com"
    tok = _check(
        await http.post("/api/v1/auth/signup", json={"email": email, "password": "bench password 123"})
    )
    h = {"Authorization": f"Bearer {tok['access_token']}"}
    _check(await http.patch("/api/v1/organization", headers=h, json={"max_concurrent_calls": max_calls}))
    definition = dict(WORKFLOW)
    definition["settings"] = {
        "llm": {"provider": "openai-compatible", "base_url": fakes + "/v1", "model": "fake"}
    }
    wf = _check(
        await http.post("/api/v1/workflows", headers=h, json={"name": "bench", "definition": definition})
    )
    _check(await http.post(f"/api/v1/workflows/{wf['id']}/publish", headers=h, json={}))
    acct = _check(
        await http.post(
            "/api/v1/carriers",
            headers=h,
            json={
                "carrier": "twilio",
                "name": "bench",
                "credentials": {"account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN},
            },
        )
    )
    _check(
        await http.post(
            "/api/v1/phone-numbers",
            headers=h,
            json={"number": number, "carrier_account_id": acct["id"], "workflow_id": wf["id"]},
        )
    )
    stt = "deepgram-flux" if turn == "flux" else "deepgram"
    _check(
        await http.put(
            "/api/v1/provider-settings",
            headers=h,
            json={"stt": {"provider": stt}, "tts": {"provider": "openai"}},
        )
    )
    key = _check(await http.post("/api/v1/api-keys", headers=h, json={"name": "bench"}))
    return Provisioned(workflow_id=wf["id"], api_key=key["key"])


def provision(url: str, turn: str, fakes: str, max_calls: int = 500) -> Provisioned:
    async def run() -> Provisioned:
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            return await provision_async(http, turn, fakes, max_calls=max_calls)

    return asyncio.run(run())


def wait_warm(url: str, timeout: float = 120.0, consecutive: int = 1) -> float:
    """Wait until the server's readiness says its start-up warm-up is done (``"warm": true``),
    as a load balancer would before routing calls to it; returns the seconds waited. With
    several worker processes behind the port, each answer comes from one of them: wait for
    ``consecutive`` warm answers in a row (new connections, spread by the kernel)."""
    t0 = time.monotonic()
    streak = 0
    while time.monotonic() - t0 < timeout:
        try:
            warm = httpx.get(url + "/health/ready", timeout=5).json().get("warm")
        except (httpx.HTTPError, ValueError):
            warm = False
        streak = streak + 1 if warm else 0
        if streak >= consecutive:
            return time.monotonic() - t0
        time.sleep(0.02 if warm else 0.1)
    raise RuntimeError(f"{url} not warm after {timeout} s")


def start_switchboard(
    turn: str, fakes: str, core: int | None, workdir: Path, *, gc_freeze: bool = True,
    webrtc: bool = False, fleet: Fleet | None = None, settings: dict[str, str] | None = None,
) -> Server:
    """A plain ``switchboard serve`` with its default settings (models warmed at start-up,
    start-up heap frozen out of the collector). ``gc_freeze=False`` sets ``GC_FREEZE=false``
    (the ``switchboard-no-gc-freeze`` comparison of ``bench/run.py``); ``webrtc=True`` has
    the load generator call it as browser peers (``switchboard-webrtc``); ``fleet`` runs
    ``WORKERS`` processes on a shared PostgreSQL and Redis instead of the embedded
    database (``bench/per_machine.py``); ``settings``: environment settings of this server
    (``bench/ab.py``'s values)."""
    port = free_port()
    data = workdir / f"switchboard-{turn}-{port}"
    data.mkdir(parents=True, exist_ok=True)
    data.chmod(0o755)
    env = {
        **os.environ,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "DATA_DIR": str(data),
        "LOG_LEVEL": os.environ.get("BENCH_SWITCHBOARD_LOG_LEVEL", "warning"),
        "DEEPGRAM_API_KEY": "fake",
        "DEEPGRAM_BASE_URL": fakes,
        "OPENAI_API_KEY": "fake",
        "OPENAI_BASE_URL": fakes + "/v1",
        # post-call jobs (analysis, webhooks) belong to a `switchboard worker` process in a
        # deployment; the fake LLM does not produce their structured output anyway
        "JOBS_ENABLED": "false",
        "DEFAULT_PLAN": "scale",  # up to 500 concurrent calls (the free plan allows 10)
        # the workflow's LLM (set by the benchmark's tenant) is the fake on 127.0.0.1, which
        # the egress policy refuses by default
        "ALLOW_PRIVATE_URLS": "true",
    }
    if not gc_freeze:
        env["GC_FREEZE"] = "false"
    for name in ("WARMUP", "GC_FREEZE") if gc_freeze else ("WARMUP",):
        env.pop(name, None)  # the server's defaults, whatever the caller's shell says
    env.pop("DATABASE_URL", None)  # embedded PostgreSQL in the scratch directory
    env.pop("REDIS_URL", None)
    if fleet is not None:
        env.update(fleet.env())
    env.update(settings or {})
    log = workdir / f"switchboard-{turn}.log"
    argv = [str(Path(PY).with_name("switchboard")), "serve"]
    proc = subprocess.Popen(
        pinned(core, argv), cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_port(port, timeout=120, proc=proc)
        time.sleep(0.5)
        if fleet is not None and fleet.workers > 1:
            wait_warm(url, consecutive=8 * fleet.workers)  # each worker warms on its own
        tenant = provision(url, turn, fakes)
    except BaseException:
        proc.terminate()
        proc.wait(30)
        raise
    if webrtc:
        args = ["--channel", "webrtc", "--workflow-id", tenant.workflow_id,
                "--api-key", tenant.api_key]  # fmt: skip
        name = "switchboard-webrtc"
    else:
        args = ["--auth-token", AUTH_TOKEN, "--account-sid", ACCOUNT_SID, "--to", NUMBER]
        name = "switchboard" if gc_freeze else "switchboard-no-gc-freeze"
    return Server(name, proc, url, args, log, extra={"api_key": tenant.api_key}, data_dir=data)
