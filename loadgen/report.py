"""Percentiles, the summary table and the JSON document of a load-test run."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

from loadgen.script import CallResult


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0–100) with linear interpolation between ranks (numpy's default)."""
    if not values:
        return None
    data = sorted(values)
    if len(data) == 1:
        return data[0]
    pos = (len(data) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(data) - 1)
    return data[lo] + (data[hi] - data[lo]) * (pos - lo)


def distribution(values_seconds: Iterable[float]) -> dict[str, Any]:
    """Count, p50/p95/p99, max and mean of a set of durations, in milliseconds."""
    ms = [v * 1000.0 for v in values_seconds]
    out: dict[str, Any] = {"n": len(ms)}
    for q in (50, 95, 99):
        p = percentile(ms, q)
        out[f"p{q}"] = None if p is None else round(p, 2)
    out["max"] = round(max(ms), 2) if ms else None
    out["mean"] = round(sum(ms) / len(ms), 2) if ms else None
    return out


def summarize(results: Sequence[CallResult], *, config: dict[str, Any]) -> dict[str, Any]:
    """The JSON summary of a run: per-metric distributions, call counts and errors."""
    setup = [r.timeline.setup_time for r in results if r.timeline.setup_time is not None]
    v2v = [v for r in results for v in r.timeline.voice_to_voice()]
    v2v_plain = [
        t.voice_to_voice
        for r in results
        for t in r.timeline.turns
        if t.voice_to_voice is not None and not t.barge_in
    ]
    lateness = [x for r in results for x in r.timeline.lateness]
    lags = [x for r in results for x in r.sender_lags]
    webhook = [r.webhook_seconds for r in results if r.webhook_seconds is not None]
    failed = [r for r in results if not r.ok]
    late_100 = sum(1 for x in lateness if x > 0.100)
    return {
        "config": config,
        "calls": {
            "placed": len(results),
            "completed": len(results) - len(failed),
            "failed": len(failed),
        },
        "turns": sum(len(r.timeline.turns) for r in results),
        "setup_ms": distribution(setup),
        "webhook_ms": distribution(webhook),
        "voice_to_voice_ms": distribution(v2v_plain),
        "voice_to_voice_all_ms": distribution(v2v),
        "lateness_ms": distribution(lateness),
        "frames_later_than_100ms": late_100,
        "bot_frames": sum(r.timeline.bot_frames for r in results),
        "clears": sum(r.timeline.clears for r in results),
        "loadgen_send_lag_ms": distribution(lags),
        "errors": [f"call {r.index}: {e}" for r in failed for e in r.errors][:50],
    }


def _fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:.1f}"


def summary_table(summary: dict[str, Any]) -> str:
    """A fixed-width table of the main distributions (milliseconds)."""
    rows = [
        ("setup (media start → greeting)", summary["setup_ms"]),
        ("voice-to-voice", summary["voice_to_voice_ms"]),
        ("bot audio lateness", summary["lateness_ms"]),
        ("signalling (webhook / SDP offer)", summary["webhook_ms"]),
        ("load generator send lag", summary["loadgen_send_lag_ms"]),
    ]
    if summary["voice_to_voice_all_ms"]["n"] != summary["voice_to_voice_ms"]["n"]:
        rows.insert(2, ("voice-to-voice incl. barge-ins", summary["voice_to_voice_all_ms"]))
    lines = [f"{'metric (ms)':34} {'n':>7} {'p50':>8} {'p95':>8} {'p99':>8} {'max':>8}"]
    for name, d in rows:
        lines.append(
            f"{name:34} {d['n']:>7} {_fmt(d['p50']):>8} {_fmt(d['p95']):>8} "
            f"{_fmt(d['p99']):>8} {_fmt(d['max']):>8}"
        )
    c = summary["calls"]
    lines.append(
        f"calls: {c['placed']} placed, {c['completed']} completed, {c['failed']} failed; "
        f"turns: {summary['turns']}; bot frames later than 100 ms: "
        f"{summary['frames_later_than_100ms']} of {summary['bot_frames']}"
    )
    for err in summary["errors"][:10]:
        lines.append(f"  error: {err}")
    return "\n".join(lines)
