"""The A/B benchmark's reading of a load-generator summary and its per-value summary."""

from __future__ import annotations

from bench.ab import row, summarise


def summary(per_turn: float, v2v_p95: float, late_p99: float | None) -> dict:
    return {
        "server_cpu": {"per_turn_ms": per_turn, "children_per_turn_ms": 7.5, "core_fraction": 0.6},
        "voice_to_voice_ms": {"p50": 600.0, "p95": v2v_p95, "mean": 620.0, "max": 1200.0},
        "lateness_ms": {"p99": late_p99},
        "setup_ms": {"p50": 45.0, "p95": 70.0},
        "calls": {"failed": 0},
    }


def test_a_row_carries_the_runs_figures_and_its_value() -> None:
    assert row(summary(580.0, 990.0, 6.2), 2, "10") == {
        "round": 2, "val": "10", "per_turn": 580.0, "pg": 7.5, "busy": 0.6,
        "v2v_p50": 600.0, "v2v_p95": 990.0, "v2v_mean": 620.0, "v2v_max": 1200.0,
        "late_p99": 6.2, "setup_p50": 45.0, "setup_p95": 70.0, "failed": 0,
    }  # fmt: skip


def test_each_value_is_summarised_from_its_own_runs_only() -> None:
    rows = [
        row(summary(600.0, 1000.0, None), 0, "0"),
        row(summary(580.0, 900.0, 10.0), 0, "10"),
        row(summary(640.0, 1100.0, 20.0), 1, "0"),
        row(summary(560.0, 950.0, 30.0), 1, "10"),
    ]
    lines = summarise(rows, "VAD_BATCH_MS", ["0", "10"])
    assert "VAD_BATCH_MS=0 per_turn: mean 620, range 600.0-640.0 (2 runs)" in lines
    assert "VAD_BATCH_MS=10 per_turn: mean 570, range 560.0-580.0 (2 runs)" in lines
    # the run with no lateness sample is left out, not counted as zero
    assert "VAD_BATCH_MS=0 late_p99: mean 20, range 20.0-20.0 (1 runs)" in lines
    assert "VAD_BATCH_MS=10 v2v_p95: mean 925, range 900.0-950.0 (2 runs)" in lines
