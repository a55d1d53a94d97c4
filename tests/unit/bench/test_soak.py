"""The soak report: per-minute figures from call results, the server gauges it scrapes, and
the BENCHMARKS block it rewrites."""

from __future__ import annotations

from pathlib import Path

from bench.soak import END, START, Minute, render, scrape
from loadgen.script import CallResult
from loadgen.timeline import Turn


def _result(index: int, lateness: list[float], v2v: float, errors: list[str] | None = None) -> CallResult:
    r = CallResult(index=index, call_sid=f"CA{index}")
    r.timeline.lateness = lateness
    r.timeline.turns = [Turn(speech_end_at=10.0, response_at=10.0 + v2v)]
    r.errors = errors or []
    return r


def test_minute_figures_come_from_the_calls_that_ended_in_it() -> None:
    m = Minute(0, [_result(1, [0.0, 0.002, 0.150], 0.4), _result(2, [0.0], 0.6, ["StreamError: x"])])
    f = m.figures()
    assert f["minute"] == 1 and f["calls"] == 2 and f["failed"] == 1
    assert f["lateness_ms"]["max"] == 150.0 and f["lateness_ms"]["over_100ms"] == 1
    assert 400 < f["v2v_p95_ms"] <= 600
    assert f["errors"] == ["StreamError: x"]


def test_scrape_keeps_loop_lag_and_pool_samples_only() -> None:
    text = "\n".join([
        "# HELP switchboard_event_loop_lag_seconds lag",
        'switchboard_event_loop_lag_seconds_bucket{le="0.01"} 3.0',
        "switchboard_event_loop_lag_seconds_sum 0.25",
        "switchboard_db_pool_in_use 2.0",
        "switchboard_active_calls 4.0",
    ])  # fmt: skip
    assert scrape(text) == {"switchboard_event_loop_lag_seconds_sum": 0.25, "switchboard_db_pool_in_use": 2.0}


def test_render_replaces_only_the_soak_block(tmp_path: Path) -> None:
    md = tmp_path / "BENCHMARKS.md"
    md.write_text(f"intro\n{START}\nold\n{END}\noutro\n")
    report = {
        "calls": 12, "pace": "dense", "turn": "flux", "minutes": 1.0, "date": "2026-11-30T10:00:00",
        "results_file": "bench/results/soak.json",
        "per_minute": [Minute(0, [_result(1, [0.001], 0.5)], {"rss_mb": 300.0}).figures()],
    }  # fmt: skip
    render(report, md)
    text = md.read_text()
    assert text.startswith("intro\n") and text.endswith("outro\n") and "old" not in text
    assert "| 1 | 1 | 0 | 1.0 / 1.0 / 1.0 | 0 | 500.0 | 300.0 |" in text
