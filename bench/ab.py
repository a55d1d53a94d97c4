"""An interleaved A/B of one server setting: the same dense callers against a fresh server
per run, the setting's values taking turns, so drift on a shared machine falls on both.

    python -m bench.ab --var VAD_BATCH_MS --values 0,10 --turn smart-turn --calls 10 \\
        --rounds 3 --out bench/results/ab-vad-batch.jsonl

Each run appends one JSON line (round, value, server CPU per caller turn, embedded
PostgreSQL per turn, core busy, voice-to-voice p50/p95/mean/max, lateness p99, call set-up
p50/p95, failed calls) and the end prints each value's mean and range. Pinning is
``bench/run.py``'s: the server on core 0, the fake providers and the load generator on
core 1.

Two commits are compared the same way with ``--var PYTHONPATH`` and a git worktree of each
as the values (``git worktree add --detach /tmp/wt-a <rev>``): the server's console script
imports its code from the worktree, the load generator and the fakes stay this checkout's.
``--stt-connect-delay S`` has the fake Deepgram answer each websocket upgrade after S
seconds, as a provider across the internet does (what call set-up waits for, or not).
``--tts-stream-speed X`` has the fake OpenAI speech stream its audio at X times real time in
20 ms pieces instead of all at once, as a provider synthesizing while it sends does (what
the first bot audio of each sentence waits for).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path
from typing import Any

from bench.capacity import log, run_level
from bench.processes import start_fakes
from bench.switchboard_target import start_switchboard, wait_warm


def row(summary: dict[str, Any], round_: int, value: str) -> dict[str, Any]:
    cpu = summary["server_cpu"]
    v2v = summary["voice_to_voice_ms"]
    return {
        "round": round_,
        "val": value,
        "per_turn": cpu["per_turn_ms"],
        "pg": cpu["children_per_turn_ms"],
        "busy": cpu["core_fraction"],
        "v2v_p50": v2v["p50"],
        "v2v_p95": v2v["p95"],
        # a p95 of a few dozen turns is its second-slowest turn: the mean and the worst say
        # whether a difference is one turn or all of them
        "v2v_mean": v2v["mean"],
        "v2v_max": v2v["max"],
        "late_p99": summary["lateness_ms"]["p99"],
        # media start -> first greeting audio, each call (the first call after start-up is
        # one_run's unrecorded call)
        "setup_p50": summary["setup_ms"]["p50"],
        "setup_p95": summary["setup_ms"]["p95"],
        "failed": summary["calls"]["failed"],
    }


def summarise(rows: list[dict[str, Any]], var: str, values: list[str]) -> list[str]:
    """Each value's mean and range of the figures that differ between runs (a run with no
    figure, e.g. no lateness sample, is left out of that figure)."""
    lines = []
    for value in values:
        mine = [x for x in rows if x["val"] == value]
        for key in ("per_turn", "busy", "v2v_p50", "v2v_p95", "v2v_mean", "late_p99",
                    "setup_p50", "setup_p95"):
            xs = [x[key] for x in mine if x[key] is not None]
            if xs:
                lines.append(f"{var}={value} {key}: mean {statistics.mean(xs):.4g}, "
                             f"range {min(xs)}-{max(xs)} ({len(xs)} runs)")  # fmt: skip
    return lines


def one_run(args: argparse.Namespace, value: str, fakes: str, workdir: Path) -> dict[str, Any]:
    server = start_switchboard(
        args.turn, fakes, args.server_core, workdir,
        webrtc=args.system == "switchboard-webrtc", settings={args.var: value},
    )  # fmt: skip
    try:
        wait_warm(server.url)
        run_level(server, 1, 1, args.client_core, workdir)  # the first call's set-up, not counted
        return run_level(server, args.calls, args.turns, args.client_core, workdir)
    finally:
        server.stop()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--var", required=True, help="the server's environment setting to vary")
    p.add_argument("--values", required=True, help="comma-separated values, run in turn")
    p.add_argument("--turn", default="smart-turn", choices=["smart-turn", "flux"])
    p.add_argument("--system", default="switchboard", choices=["switchboard", "switchboard-webrtc"])
    p.add_argument("--calls", type=int, default=10)
    p.add_argument("--turns", type=int, default=3)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--server-core", type=int, default=0)
    p.add_argument("--client-core", type=int, default=1)
    p.add_argument("--out", type=Path, required=True, help="JSON lines, appended")
    p.add_argument("--stt-connect-delay", type=float, default=0.0,
                   help="seconds the fake Deepgram takes to answer each websocket upgrade")
    p.add_argument("--tts-stream-speed", type=float, default=0.0,
                   help="the fake OpenAI speech streams at this multiple of real time (0: at once)")
    args = p.parse_args()
    values = args.values.split(",")
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="switchboard-ab-") as tmp:
        workdir = Path(tmp)
        fakes_proc, fakes = start_fakes(args.client_core, workdir,
                                        "--stt-connect-delay", str(args.stt_connect_delay),
                                        "--tts-stream-speed", str(args.tts_stream_speed))
        try:
            for r in range(args.rounds):
                for value in values:
                    result = row(one_run(args, value, fakes, workdir), r, value)
                    rows.append(result)
                    with args.out.open("a") as f:
                        f.write(json.dumps(result) + "\n")
                    log(f"{args.var}={value} round {r}: {result}")
        finally:
            fakes_proc.terminate()
            fakes_proc.wait(15)
    print("\n".join(summarise(rows, args.var, values)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
