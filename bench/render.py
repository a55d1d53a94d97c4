"""Render a results file into the generated block of ``BENCHMARKS.md``.

    python -m bench.render bench/results/<date>.json [BENCHMARKS.md]

Only the text between ``<!-- results:start -->`` and ``<!-- results:end -->`` is replaced;
the hand-written analysis around it stays.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

START, END = "<!-- results:start -->", "<!-- results:end -->"


def _get(d: Any, *path: str) -> Any:
    for p in path:
        if not isinstance(d, dict) or p not in d:
            return None
        d = d[p]
    return d


def _fmt(v: Any, unit: str = "") -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:.0f}{unit}" if abs(v) >= 10 else f"{v:.1f}{unit}"
    return f"{v}{unit}"


def _pct(v: Any) -> str:
    return "—" if v is None else f"{100 * v:.1f}%"


def _ratio(a: Any, b: Any) -> str:
    if not isinstance(a, int | float) or not isinstance(b, int | float) or b == 0:
        return "—"
    return f"{a / b:.2f}×"


def _trio(d: dict | None) -> str:
    if not d:
        return "—"
    return " / ".join(_fmt(d.get(q)) for q in ("p50", "p95", "p99"))


def figures(res: dict[str, Any]) -> dict[str, Any]:
    """The five figures of one system in one turn mode."""
    cap = res.get("capacity")
    levels = res.get("levels") or {}
    at_cap = levels.get(str(cap)) if cap else None
    one = levels.get("1")
    return {
        "capacity": cap,
        "first_failure": res.get("first_failure"),
        "why": _get(levels.get(str(res.get("first_failure"))), "verdict"),
        "added_1": _get(res, "server_added_ms", "1_call"),
        "added_80": _get(res, "server_added_ms", "80pct"),
        "n80": _get(res, "at_80pct", "calls"),
        "v2v_1": _get(one, "voice_to_voice_ms"),
        "mem_per_call": _get(at_cap, "rss", "per_call_mb"),
        "rss_idle": _get(at_cap, "rss", "idle_mb"),
        "setup": _get(at_cap, "setup_ms"),
        "setup_1": _get(one, "setup_ms"),
        "setup_first": _get(res, "first_call", "setup_ms"),
        "cpu_turn_1": _get(one, "server_cpu", "per_turn_ms"),
        "cpu_turn_cap": _get(at_cap, "server_cpu", "per_turn_ms"),
        "child_turn_cap": _get(at_cap, "server_cpu", "children_per_turn_ms"),
        "lateness_cap": _get(at_cap, "lateness_ms"),
        "leak": res.get("leak"),
        "cpu_1": _get(one, "server_cpu", "per_call_core_fraction"),
        "cpu_cap": _get(at_cap, "server_cpu", "core_fraction"),
        "wait_cap": _wait_fraction(at_cap),
        "wait_1": _wait_fraction(one),
    }


def _wait_fraction(level: dict | None) -> float | None:
    wait = _get(level, "server_cpu", "runqueue_wait_seconds")
    wall = _get(level, "server_cpu", "wall_seconds")
    return wait / wall if wait is not None and wall else None


LABELS = {
    "switchboard": "Switchboard",
    "switchboard-no-gc-freeze": "Switchboard, GC_FREEZE=false",
    "switchboard-webrtc": "Switchboard, WebRTC callers",
    "baseline": "bare pipecat",
}


def _pq(d: dict | None, qs: tuple[str, ...]) -> str:
    return " / ".join(_fmt(_get(d, q)) for q in qs)


# (label, display(figures) -> str, number(figures) -> float | None for the ratio)
ROWS: list[tuple[str, Any, Any]] = [
    ("capacity: concurrent calls on one core within bounds",
     lambda f: _fmt(f["capacity"]), lambda f: f["capacity"]),
    ("first failing level (reason)",
     lambda f: f"{_fmt(f['first_failure'])} ({f['why'] or '—'})", lambda f: None),
    ("server-added latency at 1 call, p50 / p95 / p99 (ms)",
     lambda f: _trio(f["added_1"]), lambda f: _get(f, "added_1", "p95")),
    ("server-added latency at 80% of capacity, p50 / p95 / p99 (ms)",
     lambda f: f"{_trio(f['added_80'])} ({_fmt(f['n80'])} calls)",
     lambda f: _get(f, "added_80", "p95")),
    ("voice-to-voice at 1 call, p50 / p95 / p99 (ms)",
     lambda f: _trio(f["v2v_1"]), lambda f: _get(f, "v2v_1", "p95")),
    ("memory per call at capacity (MB of RSS growth / live calls)",
     lambda f: _fmt(f["mem_per_call"]), lambda f: f["mem_per_call"]),
    ("idle server RSS (MB)", lambda f: _fmt(f["rss_idle"]), lambda f: f["rss_idle"]),
    ("server CPU per live call at 1 call (% of the core)",
     lambda f: _pct(f["cpu_1"]), lambda f: f["cpu_1"]),
    ("server core busy at capacity", lambda f: _pct(f["cpu_cap"]), lambda f: None),
    ("server runnable but waiting for the CPU (other load), 1 call / at capacity",
     lambda f: f"{_pct(f['wait_1'])} / {_pct(f['wait_cap'])}", lambda f: None),
    ("call setup of the first call after start-up (ms)",
     lambda f: _fmt(_get(f, "setup_first", "p50")), lambda f: _get(f, "setup_first", "p50")),
    ("server CPU per caller turn, 1 call / at capacity (ms)",
     lambda f: f"{_fmt(f['cpu_turn_1'])} / {_fmt(f['cpu_turn_cap'])}", lambda f: f["cpu_turn_cap"]),
    ("CPU of the processes working for the server on its core, per caller turn at capacity: "
     "embedded PostgreSQL, offline engine workers (ms)",
     lambda f: _fmt(f["child_turn_cap"]), lambda f: None),
    ("call setup at 1 call, p50 / p95 (ms)",
     lambda f: _pq(f["setup_1"], ("p50", "p95")), lambda f: _get(f, "setup_1", "p95")),
    ("call setup at capacity, p50 / p95 (ms)",
     lambda f: _pq(f["setup"], ("p50", "p95")), lambda f: _get(f, "setup", "p95")),
    ("bot audio lateness at capacity, p99 / max (ms)",
     lambda f: _pq(f["lateness_cap"], ("p99", "max")), lambda f: None),
    ("leak check: sequential calls → RSS before / after (MB)",
     lambda f: (f"{f['leak']['calls']} calls ({f['leak']['failed']} failed): "
                f"{f['leak']['rss']['idle_mb']:.0f} → {f['leak']['rss']['after_mb']:.0f}"
                + (" (at each quarter: " + " / ".join(f"{q:.0f}" for q in quarters) + ")"
                   if (quarters := f["leak"]["rss"].get("quarters_mb")) else ""))
     if f["leak"] else "—",
     lambda f: None),
]  # fmt: skip


def render(data: dict[str, Any]) -> str:
    m = data["machine"]
    ref = data.get("reference_turns")
    lines = [
        f"Run {data['date']} on {m['cpu']} ({m['cores']} cores, {m['memory_gb']} GB), "
        f"Python {m['python']}; {data.get('pace', 'sparse')} callers, "
        f"{data['turns_per_call']} caller turns per call"
        + (f" ({ref} in the 1-call reference run)" if ref else "")
        + (f"; {data['mode']} mode" if data.get("mode") else "")
        + ".",
    ]
    if data.get("command"):
        lines.append(f"Command: `{data['command']}`.")
    load = data.get("load_average") or {}
    if load.get("start"):
        end = load.get("end")
        lines.append(
            "Machine load average (1 / 5 / 15 min) at start "
            + " / ".join(f"{x:.2f}" for x in load["start"])
            + (", at end " + " / ".join(f"{x:.2f}" for x in end) if end else "")
            + (f" (finished {data['finished']})" if data.get("finished") else "")
            + "."
        )
    lines.append("")
    modes = sorted({mode for r in data["results"].values() for mode in r})
    for mode in modes:
        systems = [s for s in LABELS if mode in data["results"].get(s, {})]
        f = {s: figures(data["results"].get(s, {}).get(mode) or {}) for s in systems}
        lines += [f"### Turn detection: {mode}", ""]
        for s in systems:
            err = _get(data["results"], s, mode, "error")
            if err:
                lines.append(f"- {LABELS[s]}: run failed: `{err}`")
        # the bare bot takes Twilio-like callers only: no ratio for the WebRTC column
        others = [s for s in systems if s not in ("baseline", "switchboard-webrtc")]
        ratio_heads = [f"{LABELS[s]} / bare pipecat" for s in others] if "baseline" in f else []
        lines.append(
            "| figure | "
            + " | ".join(LABELS[s] for s in systems)
            + " | "
            + " | ".join(ratio_heads)
            + (" |" if ratio_heads else "")
        )
        lines.append("|---" * (1 + len(systems) + len(ratio_heads)) + "|")
        for label, show, num in ROWS:
            cells = [show(f[s]) for s in systems]
            ratios = [_ratio(num(f[s]), num(f["baseline"])) for s in others] if ratio_heads else []
            lines.append(f"| {label} | " + " | ".join(cells + ratios) + " |")
        lines += ["", "Per level (concurrent calls: v2v p95 / lateness p99 / max, ms; ✓ pass):", ""]
        for s in systems:
            levels = _get(data["results"], s, mode, "levels") or {}
            cells = [
                f"{n}: {_fmt(_get(v, 'voice_to_voice_ms', 'p95'))} / "
                f"{_fmt(_get(v, 'lateness_ms', 'p99'))} / {_fmt(_get(v, 'lateness_ms', 'max'))}"
                f" {'✓' if v.get('pass') else '✗'}"
                for n, v in sorted(levels.items(), key=lambda kv: int(kv[0]))
            ]
            lines.append(f"- {LABELS[s]}: " + ("; ".join(cells) if cells else "—"))
        lines.append("")
    return "\n".join(lines)


def update(results: Path, doc: Path) -> None:
    import json

    block = render(json.loads(results.read_text()))
    text = doc.read_text() if doc.exists() else f"{START}\n{END}\n"
    if START not in text or END not in text:
        text += f"\n{START}\n{END}\n"
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    doc.write_text(f"{head}{START}\n{block}\n{END}{tail}")


if __name__ == "__main__":
    update(Path(sys.argv[1]), Path(sys.argv[2] if len(sys.argv) > 2 else "BENCHMARKS.md"))
