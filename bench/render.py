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
SYSTEMS = ("switchboard", "baseline")


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
        "lateness_cap": _get(at_cap, "lateness_ms"),
        "leak": res.get("leak"),
        "cpu_1": _get(one, "server_cpu", "per_call_core_fraction"),
        "cpu_cap": _get(at_cap, "server_cpu", "core_fraction"),
    }


def render(data: dict[str, Any]) -> str:
    m = data["machine"]
    lines = [
        f"Run {data['date']} on {m['cpu']} ({m['cores']} cores, {m['memory_gb']} GB), "
        f"Python {m['python']}; {data['turns_per_call']} caller turns per call.",
        "",
    ]
    modes = sorted({mode for r in data["results"].values() for mode in r})
    for mode in modes:
        f = {s: figures(data["results"].get(s, {}).get(mode) or {}) for s in SYSTEMS}
        errs = {s: _get(data["results"], s, mode, "error") for s in SYSTEMS}
        lines += [f"### Turn detection: {mode}", ""]
        for s, e in errs.items():
            if e:
                lines.append(f"- {s}: run failed: `{e}`")
        sb, bl = f["switchboard"], f["baseline"]

        def row(name: str, a: Any, b: Any, ratio: str = "—") -> str:
            return f"| {name} | {a} | {b} | {ratio} |"

        lines += [
            "| figure | Switchboard | bare pipecat | ratio |",
            "|---|---|---|---|",
            row(
                "capacity: concurrent calls on one core within bounds",
                _fmt(sb["capacity"]),
                _fmt(bl["capacity"]),
                _ratio(sb["capacity"], bl["capacity"]),
            ),
            row(
                "first failing level (reason)",
                f"{_fmt(sb['first_failure'])} ({sb['why'] or '—'})",
                f"{_fmt(bl['first_failure'])} ({bl['why'] or '—'})",
            ),
            row(
                "server-added latency at 1 call, p50 / p95 / p99 (ms)",
                _trio(sb["added_1"]),
                _trio(bl["added_1"]),
                _ratio(_get(sb, "added_1", "p95"), _get(bl, "added_1", "p95")) + " (p95)",
            ),
            row(
                "server-added latency at 80% of capacity, p50 / p95 / p99 (ms)",
                f"{_trio(sb['added_80'])} ({_fmt(sb['n80'])} calls)",
                f"{_trio(bl['added_80'])} ({_fmt(bl['n80'])} calls)",
                _ratio(_get(sb, "added_80", "p95"), _get(bl, "added_80", "p95")) + " (p95)",
            ),
            row(
                "voice-to-voice at 1 call, p50 / p95 / p99 (ms)",
                _trio(sb["v2v_1"]),
                _trio(bl["v2v_1"]),
                _ratio(_get(sb, "v2v_1", "p95"), _get(bl, "v2v_1", "p95")) + " (p95)",
            ),
            row(
                "memory per call at capacity (MB of RSS growth / live calls)",
                _fmt(sb["mem_per_call"]),
                _fmt(bl["mem_per_call"]),
                _ratio(sb["mem_per_call"], bl["mem_per_call"]),
            ),
            row(
                "idle server RSS (MB)",
                _fmt(sb["rss_idle"]),
                _fmt(bl["rss_idle"]),
                _ratio(sb["rss_idle"], bl["rss_idle"]),
            ),
            row(
                "call setup at 1 call, p50 / p95 (ms)",
                " / ".join(_fmt(_get(sb, "setup_1", q)) for q in ("p50", "p95")),
                " / ".join(_fmt(_get(bl, "setup_1", q)) for q in ("p50", "p95")),
                _ratio(_get(sb, "setup_1", "p95"), _get(bl, "setup_1", "p95")) + " (p95)",
            ),
            row(
                "call setup at capacity, p50 / p95 (ms)",
                " / ".join(_fmt(_get(sb, "setup", q)) for q in ("p50", "p95")),
                " / ".join(_fmt(_get(bl, "setup", q)) for q in ("p50", "p95")),
                _ratio(_get(sb, "setup", "p95"), _get(bl, "setup", "p95")) + " (p95)",
            ),
            row(
                "bot audio lateness at capacity, p99 / max (ms)",
                " / ".join(_fmt(_get(sb, "lateness_cap", q)) for q in ("p99", "max")),
                " / ".join(_fmt(_get(bl, "lateness_cap", q)) for q in ("p99", "max")),
            ),
        ]
        for s in SYSTEMS:
            leak = f[s]["leak"]
            if leak:
                lines.append(
                    row(
                        f"leak check ({s}): {leak['calls']} sequential calls, "
                        f"{leak['concurrency']} at a time",
                        f"RSS {leak['rss']['idle_mb']:.0f} MB before → "
                        f"{leak['rss']['after_mb']:.0f} MB after",
                        f"{leak['failed']} failed",
                    )
                )
        lines += ["", "Per level (concurrent calls → v2v p95 / lateness p99 / max, ms; pass):", ""]
        for s in SYSTEMS:
            levels = _get(data["results"], s, mode, "levels") or {}
            cells = [
                f"{n}: {_fmt(_get(v, 'voice_to_voice_ms', 'p95'))} / "
                f"{_fmt(_get(v, 'lateness_ms', 'p99'))} / {_fmt(_get(v, 'lateness_ms', 'max'))}"
                f" {'✓' if v.get('pass') else '✗'}"
                for n, v in sorted(levels.items(), key=lambda kv: int(kv[0]))
            ]
            lines.append(f"- {s}: " + ("; ".join(cells) if cells else "—"))
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
