"""The soak report: per-minute figures from call results, the server gauges it scrapes, and
the BENCHMARKS block it rewrites."""

from __future__ import annotations

from pathlib import Path

from bench.soak import END, START, Minute, bucket_quantile, lag_buckets, render, scrape, server_minute
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


def test_scrape_keeps_loop_health_and_pool_samples_only() -> None:
    text = "\n".join([
        "# HELP switchboard_event_loop_lag_seconds lag",
        'switchboard_event_loop_lag_seconds_bucket{le="0.01"} 3.0',
        "switchboard_event_loop_lag_seconds_sum 0.25",
        "switchboard_event_loop_lag_seconds_created 1.7e9",
        'switchboard_gc_pause_seconds_count{generation="2"} 4.0',
        "switchboard_event_loop_stalls_total 2.0",
        "switchboard_db_pool_in_use 2.0",
        "switchboard_active_calls 4.0",
    ])  # fmt: skip
    assert scrape(text) == {
        "switchboard_event_loop_lag_seconds_sum": 0.25,
        'switchboard_gc_pause_seconds_count{generation="2"}': 4.0,
        "switchboard_event_loop_stalls_total": 2.0,
        "switchboard_db_pool_in_use": 2.0,
    }
    assert lag_buckets(text) == {0.01: 3.0}


def test_lag_p99_is_the_bound_of_the_bucket_holding_it_in_the_interval() -> None:
    before = {0.01: 100.0, 0.04: 100.0, 0.08: 100.0, float("inf"): 100.0}
    after = {0.01: 1080.0, 0.04: 1098.0, 0.08: 1100.0, float("inf"): 1100.0}  # 1000 ticks
    assert bucket_quantile(before, after, 0.99) == 0.04
    assert bucket_quantile(before, after, 0.5) == 0.01
    assert bucket_quantile(after, after, 0.99) is None  # no tick in the interval


def test_server_minute_takes_differences_of_counters_and_last_gauges() -> None:
    gen2 = 'switchboard_gc_pause_seconds_count{generation="2"}'
    gen2_sum = 'switchboard_gc_pause_seconds_sum{generation="2"}'
    prev = {"metrics": {gen2: 3.0, gen2_sum: 0.1, "switchboard_event_loop_stalls_total": 5.0}}
    cur = {"metrics": {gen2: 5.0, gen2_sum: 0.16, "switchboard_event_loop_stalls_total": 5.0,
                       "switchboard_db_pool_in_use": 1.0, "switchboard_db_pool_size": 4.0},
           "buckets": {0.01: 10.0, float("inf"): 10.0}}  # fmt: skip
    m = server_minute(prev, cur, 0.031)
    assert m["gc_full_collections"] == 2.0 and m["gc_full_ms_mean"] == 30.0
    assert m["loop_stalls"] == 0.0 and m["loop_lag_max_ms"] == 31.0 and m["loop_lag_p99_ms"] == 10.0
    assert (m["db_pool_in_use"], m["db_pool_size"]) == (1.0, 4.0)


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
    assert "| 1 | 1 | 0 | 1.0 / 1.0 / 1.0 | 0 | 500.0 | — / — | — | — (—) | 300 |" in text
