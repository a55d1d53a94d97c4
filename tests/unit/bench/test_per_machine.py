"""The calls-per-machine benchmark's pieces: the fleet's environment, the readiness wait
that must hear every worker warm, and its summary table."""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bench.per_machine import summary
from bench.switchboard_target import Fleet, wait_warm


@contextmanager
def readiness(answers: Iterator[bool]) -> Iterator[str]:
    """A /health/ready that answers ``warm`` from ``answers``, one per request (like
    workers behind one port, some still warming)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            body = json.dumps({"status": "ok", "warm": next(answers)}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_fleet_environment_names_workers_database_and_redis() -> None:
    fleet = Fleet(2, "postgresql://db/x", "redis://r:6379/0", "bench-x")
    assert fleet.env() == {"WORKERS": "2", "DATABASE_URL": "postgresql://db/x",
                           "REDIS_URL": "redis://r:6379/0", "REDIS_PREFIX": "bench-x"}  # fmt: skip


def test_one_warm_answer_is_not_enough_when_a_worker_is_cold() -> None:
    # one worker warm, the other not: answers alternate
    with readiness(itertools.cycle([True, False])) as url:
        assert wait_warm(url, timeout=60, consecutive=1) < 5
        with pytest.raises(RuntimeError, match="not warm"):
            wait_warm(url, timeout=1.0, consecutive=2)


def test_every_worker_warm_ends_the_wait() -> None:
    with readiness(itertools.chain([False] * 3, itertools.repeat(True))) as url:
        assert wait_warm(url, timeout=60, consecutive=4) < 5


def test_summary_gives_each_worker_count_and_its_ratio_to_one() -> None:
    results = {
        1: {"capacity": 16, "first_failure": 20,
            "levels": {"20": {"verdict": "v2v p95 500 ms > 1-call 400 + 50"}}},
        2: {"capacity": 28, "first_failure": None, "levels": {}},
    }  # fmt: skip
    table = summary(results).splitlines()
    assert table[2] == "| 1 | 16 | 20 (v2v p95 500 ms > 1-call 400 + 50) | 1.00× |"
    assert table[3] == "| 2 | 28 | none up to the last level | 1.75× |"
