"""The benchmark suite: servers pinned to one core, the load generator on the other.

    python -m bench.run [--systems baseline,switchboard] [--turn flux,smart-turn] [--quick]

For each system (the bare-pipecat baseline bot, a real ``switchboard serve`` with its default
settings; optionally ``switchboard-no-gc-freeze``, the same server with ``GC_FREEZE=false``) and each turn
detection mode (local Silero + Smart Turn v3; Flux-style provider end-of-turn) it starts
the fake providers and the load generator on core 1 and the server on core 0
(``taskset``), then steps concurrency up until a quality bound fails:

- bot audio on time: lateness p99 ≤ 40 ms and no frame later than 100 ms,
- no call fails,
- voice-to-voice p95 within 50 ms of the 1-call figure.

``--quick`` bounds the run to about 20 minutes on 2 cores: fewer concurrency levels per
mode, 2 caller turns per call, one bisection step, a 100-call leak check.

Per level it records the load generator's summary and the server's RSS (idle, peak). The
results go to ``bench/results/<date>.json``; ``bench/plot.py`` draws them and
``BENCHMARKS.md`` reports them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.capacity import (
    LATENESS_MAX_MS,
    LATENESS_P99_MS,
    QUICK,
    REFERENCE_TURNS,
    V2V_P95_SLACK_MS,
    WEBRTC_TURNS,
    bench_system,
    log,
)
from bench.processes import ROOT, machine, start_fakes

RESULTS = ROOT / "bench" / "results"


def report_lines(stem: str, lines: list[str]) -> Path:
    """Print a text report and write it to ``bench/results/<stem>-<time>.txt``."""
    print("\n".join(lines))
    out = RESULTS / f"{stem}-{time.strftime('%Y%m%d-%H%M%S')}.txt"
    out.write_text("\n".join(lines) + "\n")
    print(f"written: {out}")
    return out


def merge_earlier(report: dict[str, Any], earlier: dict[str, Any]) -> None:
    """``--merge``: keep the systems and modes of the results file being rewritten that this
    run does not measure again; the command line says both runs."""
    for system, modes in earlier.get("results", {}).items():
        for mode, res in modes.items():
            report["results"].setdefault(system, {}).setdefault(mode, res)
    report["command"] = f"{earlier.get('command')}; then {report['command']}"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--systems",
        default="baseline,switchboard,switchboard-webrtc",
        help="comma-separated: baseline, switchboard, switchboard-webrtc (browser peers, Flux "
        "only), switchboard-no-gc-freeze (GC_FREEZE=false)",
    )
    p.add_argument("--turn", default="flux,smart-turn")
    p.add_argument(
        "--levels",
        default=None,
        help="concurrency levels to step through, for every mode (default: per mode, see LEVELS)",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="bounded run (~20 min): coarser levels, 2 turns per call, 1 bisection step, "
        "100-call leak check (explicit options still win)",
    )
    p.add_argument(
        "--pace",
        default="dense",
        choices=("dense", "sparse"),
        help="caller profile (loadgen --pace): dense (the headline: answers 0.3-0.8 s after the "
        "bot, 1.5-2.5 s lines) or sparse (answers 1-2 s after the bot, short lines)",
    )
    p.add_argument("--turns", type=int, default=None, help="caller turns per call (default 3)")
    p.add_argument(
        "--reference-turns", type=int, default=None,
        help=f"turns of the 1-call run (default {REFERENCE_TURNS})",
    )
    p.add_argument("--bisect", type=int, default=None, help="bisection steps after a failure (default 2)")
    p.add_argument(
        "--leak-calls", type=int, default=None, help="sequential calls for the leak check (0: skip)"
    )
    p.add_argument("--leak-concurrency", type=int, default=10)
    p.add_argument("--leak-systems", default="switchboard")
    p.add_argument("--server-core", type=int, default=0)
    p.add_argument("--client-core", type=int, default=1)
    p.add_argument("--out", default=None)
    p.add_argument(
        "--merge",
        action="store_true",
        help="add this run's systems to the results file it writes (e.g. a WebRTC run after "
        "make bench) instead of replacing it",
    )
    p.add_argument(
        "--render",
        default=None,
        help="update this markdown file's results block (default: BENCHMARKS.md unless --out)",
    )
    args = p.parse_args()
    full = {"turns": 3, "reference_turns": REFERENCE_TURNS, "bisect": 2, "leak_calls": 0}
    for key, default in (QUICK if args.quick else full).items():
        if getattr(args, key) is None:
            setattr(args, key, default)
    if args.levels:
        args.levels = [int(x) for x in args.levels.split(",")]
        if 1 not in args.levels:
            args.levels.insert(0, 1)
    workdir = Path(tempfile.mkdtemp(prefix="switchboard-bench-"))
    log(f"work dir {workdir}")
    fakes_proc, fakes = start_fakes(args.client_core, workdir)
    report: dict[str, Any] = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "bounds": {
            "lateness_p99_ms": LATENESS_P99_MS,
            "lateness_max_ms": LATENESS_MAX_MS,
            "v2v_p95_slack_ms": V2V_P95_SLACK_MS,
        },
        "turns_per_call": args.turns,
        "pace": args.pace,
        "reference_turns": args.reference_turns,
        "mode": "quick" if args.quick else "full",
        "command": " ".join(["python -m bench.run", *sys.argv[1:]]),
        "load_average": {"start": list(os.getloadavg())},
        "results": {},
    }
    out = Path(args.out) if args.out else RESULTS / f"{dt.datetime.now(dt.UTC).date().isoformat()}.json"
    if args.merge and out.exists():
        merge_earlier(report, json.loads(out.read_text()))
    try:
        for turn in args.turn.split(","):
            for name in args.systems.split(","):
                if name == "switchboard-webrtc" and turn not in WEBRTC_TURNS:
                    continue
                log(f"=== {name} / {turn} ===")
                try:
                    res = bench_system(name, turn, args, workdir, fakes)
                except Exception as exc:  # record and go on with the other systems
                    log(f"{name}/{turn} failed: {exc}")
                    res = {"error": str(exc)}
                report["results"].setdefault(name, {})[turn] = res
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_text(json.dumps(report, indent=2))
    finally:
        fakes_proc.terminate()
        fakes_proc.wait(10)
        report["load_average"]["end"] = list(os.getloadavg())
        report["finished"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=2))
    log(f"wrote {out}")
    try:
        from bench.plot import plot

        log(f"plot {plot(out)}")
    except ImportError as exc:  # matplotlib is in the optional 'bench' dependency group
        log(f"no plot ({exc}); install the 'bench' dependency group")
    render_to = args.render or (None if args.out else str(ROOT / "BENCHMARKS.md"))
    if render_to:
        from bench.render import update

        update(out, Path(render_to))
        log(f"updated {render_to}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
