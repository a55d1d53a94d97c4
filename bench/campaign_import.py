"""Campaign contact import: time and the server's peak memory for a large CSV upload.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
        python -m bench.campaign_import --rows 100000

Starts the server as its own process (uvicorn, a fresh database on ``DATABASE_URL``'s
server, the fake Twilio REST API so numbers can be registered), creates a campaign, streams
a generated CSV (phone number, time zone on a tenth of the rows, two variables) to
``POST /api/v1/campaigns/{id}/contacts`` and reports the wall time, rows per second and the
server's peak resident memory (``VmHWM``) before and after the upload. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx

from tests.fakes.carriers.twilio_rest import FakeTwilioRest

SID, TOKEN = "AC" + "b" * 32, "bench-token"
WORKFLOW = {
    "nodes": [{"id": "start", "type": "start", "say": "Hello {{first_name}}."},
              {"id": "bye", "type": "end", "say": "Goodbye."}],
    "edges": [{"from": "start", "to": "bye", "condition": "bye"}],
    "inputs": [{"name": "first_name"}],
}  # fmt: skip


def write_csv(path: Path, rows: int) -> None:
    zones = ("America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles")
    with path.open("w") as out:
        out.write("phone_number,time_zone,first_name,account\n")
        for i in range(rows):
            zone = zones[i % 4] if i % 10 == 0 else ""
            out.write(f'+1{2000000000 + i * 7},{zone},Name{i},"ACC-{i:07d}, main"\n')


def peak_kib(pid: int, field: str = "VmHWM") -> int:
    """The process's peak (``VmHWM``) or current (``VmRSS``) resident memory, KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def chunks(path: Path, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    with path.open("rb") as handle:
        while block := handle.read(size):
            yield block


async def run(rows: int) -> dict[str, object]:
    base = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    name = f"sb_bench_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(base)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    url = urlunsplit(urlsplit(base)._replace(path=f"/{name}"))
    work = Path(tempfile.mkdtemp(prefix="campaign-bench-"))
    csv_path = work / "contacts.csv"
    write_csv(csv_path, rows)
    port = free_port()
    async with FakeTwilioRest(SID, TOKEN) as fake:
        env = {**os.environ, "DATABASE_URL": url, "DATA_DIR": str(work / "data"),
               "ALLOW_PRIVATE_URLS": "true", "TWILIO_API_BASE_URL": fake.http_url,
               "LOG_LEVEL": "warning", "REDIS_URL": ""}  # fmt: skip
        env.pop("REDIS_URL")
        server = subprocess.Popen(  # noqa: ASYNC220 - the server under test, its own process
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--factory",
                "server.app:create_app",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--log-level",
                "warning",
            ],
            env=env,
        )
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=600) as http:
                for _ in range(600):
                    try:
                        if (await http.get("/health/ready")).status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    await asyncio.sleep(0.1)
                result = await _import(http, server.pid, csv_path)
        finally:
            server.terminate()
            server.wait(30)
    admin = await asyncpg.connect(base)
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.close()
    return {"rows": rows, "csv_bytes": csv_path.stat().st_size, **result}


async def _import(http: httpx.AsyncClient, pid: int, csv_path: Path) -> dict[str, object]:
    email = f"bench-{uuid.uuid4().hex[:6]}@example.com"
    r = await http.post("/api/v1/auth/signup",
                        json={"email": email, "password": "correct horse battery"})  # fmt: skip
    h = {"Authorization": f"Bearer {r.json()['access_token']}"}
    wf = (await http.post("/api/v1/workflows", headers=h,
                          json={"name": "b", "definition": WORKFLOW})).json()["id"]  # fmt: skip
    r = await http.post(f"/api/v1/workflows/{wf}/publish", json={}, headers=h)
    assert r.status_code == 201, r.text
    acct = (await http.post("/api/v1/carriers", headers=h, json={
        "carrier": "twilio", "name": "b",
        "credentials": {"account_sid": SID, "auth_token": TOKEN}})).json()["id"]  # fmt: skip
    r = await http.post("/api/v1/phone-numbers", headers=h,
                        json={"number": "+14155550000", "carrier_account_id": acct})  # fmt: skip
    assert r.status_code == 201, r.text
    r = await http.post("/api/v1/campaigns", headers=h, json={
        "name": "bench", "workflow_id": wf, "schedule": {"time_zone": "America/New_York"},
        "required_variables": ["first_name"]})  # fmt: skip
    assert r.status_code == 201, r.text
    campaign = r.json()
    before, rss_before = peak_kib(pid), peak_kib(pid, "VmRSS")
    started = time.perf_counter()
    r = await http.post(f"/api/v1/campaigns/{campaign['id']}/contacts",
                        content=chunks(csv_path), headers={**h, "Content-Type": "text/csv"})  # fmt: skip
    seconds = time.perf_counter() - started
    report = r.json()
    after, rss_after = peak_kib(pid), peak_kib(pid, "VmRSS")
    return {"status": r.status_code, "imported": report.get("imported"),
            "rejected": report.get("rejected"), "seconds": round(seconds, 2),
            "rows_per_second": round(report.get("imported", 0) / seconds),
            "server_peak_rss_mib_before": round(before / 1024, 1),
            "server_peak_rss_mib_after": round(after / 1024, 1),
            "server_peak_rss_growth_mib": round((after - before) / 1024, 1),
            "server_rss_mib_before": round(rss_before / 1024, 1),
            "server_rss_mib_after": round(rss_after / 1024, 1)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args.rows))))


if __name__ == "__main__":
    main()
