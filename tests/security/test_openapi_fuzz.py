"""The whole HTTP API fuzzed from its own ``/openapi.json`` (schemathesis), bounded.

Every operation gets generated valid and invalid requests (examples, coverage, fuzzing and
stateful phases, NUL bytes allowed) as an organization owner. The run passes only with zero
server errors and every status code the server answered documented in the OpenAPI document.
Websocket and carrier media routes are left out (they are not HTTP request/response), as
are the liveness probes and sign-out-everywhere (it would revoke the fuzzer's own token and
leave every later request a 401). The server runs in this test's event loop; the fuzzer is a
subprocess, so the loop keeps serving while we wait for it.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.conftest import LiveServer, make_settings, run_server

pytestmark = pytest.mark.realtime  # a long end-to-end run (minutes): kept out of make test-fast

MAX_EXAMPLES = 4  # per operation and phase: a few thousand requests (99 routes: ~3 minutes)
SEED = 20261130  # reproducible; change it to explore


def _failures(text: str) -> str:
    """The report's failures section (where the failing requests and answers are), long lines
    cut: a generated body of megabytes would otherwise push it out of the message."""
    start = text.find("FAILURES")
    end = text.find("WARNINGS", start)
    section = text[start:end] if start >= 0 else text[-6000:]
    return "\n".join(line[:300] for line in section.splitlines())[:12000]


async def test_openapi_fuzz_finds_no_server_error_and_no_undocumented_status(
    database_url: str, run_dir: Path, server: LiveServer
) -> None:
    data_dir = run_dir / "fuzz-data"
    data_dir.mkdir()
    # its own server and data directory, with the keys of the session's server: instances on
    # one database must share them (the second would refuse to start)
    base = server.services.settings.data_dir
    keys = {"jwt_private_key": (base / "jwt_ed25519.pem").read_text(),
            "secrets_key": (base / "secrets.key").read_text().strip()}  # fmt: skip
    settings = make_settings(database_url, data_dir, **keys)
    async with run_server(settings) as live:
        async with httpx.AsyncClient(base_url=live.url, timeout=30) as http:
            signup = await http.post(
                "/api/v1/auth/signup",
                json={"email": "fuzz-owner@example.com", "password": "correct horse battery"},
            )
            assert signup.status_code == 201, signup.text
            token = signup.json()["access_token"]
        report = run_dir / "fuzz-report.xml"
        command = [
            str(Path(sys.executable).with_name("schemathesis")), "run", f"{live.url}/openapi.json",
            "--checks", "not_a_server_error,status_code_conformance",
            "--max-examples", str(MAX_EXAMPLES), "--seed", str(SEED), "--workers", "1",
            "--request-timeout", "20", "--generation-database", "none", "--no-color",
            # streams (websockets, Server-Sent Events) never finish a request/response
            "--exclude-path-regex", r"^/health/|/stream$|^/telephony/.*/stream|^/api/v1/auth/logout-all$"
                                    r"|^/api/v1/calls/events$",
            "--header", f"Authorization: Bearer {token}",
            "--report", "junit", "--report-junit-path", str(report),
        ]
        # A blocking run in a worker thread (the loop keeps serving the fuzzer's requests);
        # subprocess.run's timeout kills the fuzzer if it ever outlives its budget.
        finished = await asyncio.to_thread(
            subprocess.run, command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            timeout=300, check=False, cwd=run_dir,
        )
    output, returncode = finished.stdout, finished.returncode
    text = output.decode(errors="replace")
    summary = text[text.find("=== SUMMARY"):] if "=== SUMMARY" in text else text[-4000:]
    assert returncode == 0, f"schemathesis found problems:\n{_failures(text)}"
    assert "Tested:" in summary, summary  # it ran against the real document
