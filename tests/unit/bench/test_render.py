"""The benchmark's results block: one table per turn mode with the systems measured in it,
a ratio to bare pipecat only for systems that take the same (Twilio-like) callers, and
``--merge`` keeping an earlier run's systems."""

from __future__ import annotations

from typing import Any

from bench.render import render
from bench.run import merge_earlier


def _level(v2v_p95: float, ok: bool = True) -> dict[str, Any]:
    return {
        "pass": ok,
        "voice_to_voice_ms": {"p50": v2v_p95 - 20, "p95": v2v_p95, "p99": v2v_p95 + 5},
        "lateness_ms": {"p99": 1.0, "max": 20.0},
        "setup_ms": {"p50": 30.0, "p95": 40.0},
        "rss": {"per_call_mb": 1.0, "idle_mb": 300.0},
        "server_cpu": {"per_call_core_fraction": 0.05, "core_fraction": 0.5, "per_turn_ms": 12.0},
    }


def _system(capacity: int) -> dict[str, Any]:
    return {"capacity": capacity, "first_failure": capacity + 1,
            "levels": {"1": _level(350), str(capacity): _level(380)}}  # fmt: skip


def _report(results: dict[str, Any], command: str = "python -m bench.run") -> dict[str, Any]:
    machine = {"cpu": "test cpu", "cores": 2, "memory_gb": 4, "python": "3.11"}
    return {"date": "2026-11-30T00:00:00+00:00", "machine": machine, "turns_per_call": 3,
            "pace": "dense", "results": results, "command": command}  # fmt: skip


def test_webrtc_column_only_in_its_mode_and_without_a_ratio() -> None:
    text = render(_report({
        "baseline": {"flux": _system(8), "smart-turn": _system(3)},
        "switchboard": {"flux": _system(24), "smart-turn": _system(6)},
        "switchboard-webrtc": {"flux": _system(12)},
    }))  # fmt: skip
    flux, smart = text.split("### Turn detection: smart-turn")
    header = next(line for line in flux.splitlines() if line.startswith("| figure"))
    assert header == ("| figure | Switchboard | Switchboard, WebRTC callers | bare pipecat "
                      "| Switchboard / bare pipecat |")  # fmt: skip
    capacity = next(line for line in flux.splitlines() if line.startswith("| capacity"))
    assert capacity.endswith("| 24 | 12 | 8 | 3.00× |")
    assert "WebRTC" not in smart
    assert "- Switchboard, WebRTC callers: 1: 350 / 1.0 / 20 ✓; 12: 380 / 1.0 / 20 ✓" in flux


def test_merge_keeps_the_earlier_systems_and_names_both_commands() -> None:
    earlier = _report({"baseline": {"flux": _system(8)}, "switchboard": {"flux": _system(24)}},
                      "python -m bench.run --leak-calls 500")  # fmt: skip
    now = _report({"switchboard-webrtc": {"flux": _system(12)}},
                  "python -m bench.run --systems switchboard-webrtc --merge")  # fmt: skip
    merge_earlier(now, earlier)
    assert set(now["results"]) == {"baseline", "switchboard", "switchboard-webrtc"}
    assert now["results"]["switchboard"]["flux"]["capacity"] == 24
    assert now["command"] == ("python -m bench.run --leak-calls 500; then "
                              "python -m bench.run --systems switchboard-webrtc --merge")  # fmt: skip


def test_leak_row_gives_the_rss_at_each_quarter_of_the_run() -> None:
    system = _system(24)
    system["leak"] = {"calls": 1000, "concurrency": 10, "failed": 0,
                      "rss": {"idle_mb": 345.0, "after_mb": 408.0,
                              "quarters_mb": [391.2, 404.0, 407.6, 408.1]}}  # fmt: skip
    text = render(_report({"switchboard": {"flux": system}, "baseline": {"flux": _system(8)}}))
    row = next(line for line in text.splitlines() if line.startswith("| leak check"))
    assert "1000 calls (0 failed): 345 → 408 (at each quarter: 391 / 404 / 408 / 408)" in row


def test_quarters_take_the_last_sample_of_each_quarter() -> None:
    from bench.capacity import quarters_mb

    mb = 2**20
    trace = [(0.0, 100 * mb), (10.0, 200 * mb), (20.0, 250 * mb), (30.0, 260 * mb),
             (40.0, 260 * mb)]  # fmt: skip
    assert quarters_mb(trace) == [200.0, 250.0, 260.0, 260.0]
    assert quarters_mb([]) == []
