"""One benchmark level and the capacity search over levels: the load generator's run with
the server's CPU and RSS read around it, the quality bounds a level passes, and the stepped
then bisected search for the most concurrent calls that pass."""

import argparse
import datetime as dt
import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

from bench.processes import (
    PY,
    ROOT,
    RssSampler,
    Server,
    cpu_seconds,
    helper_cpu_seconds,
    pinned,
    rss_bytes,
    runqueue_wait_seconds,
    start_baseline,
)
from bench.switchboard_target import start_switchboard, wait_warm

#: End-of-turn wait configured in each mode (seconds): silence the server must observe
#: before it may answer. Server-added latency = voice-to-voice minus this.
EOT_WAIT = {"smart-turn": 0.2, "flux": 0.3}  # Silero stop_secs; fake Flux eot_silence

LATENESS_P99_MS = 40.0
LATENESS_MAX_MS = 100.0
V2V_P95_SLACK_MS = 50.0
LOADGEN_LAG_P99_MS = 30.0

#: Concurrency levels stepped through (then bisected) per turn mode.
LEVELS = {
    "flux": [1, 3, 5, 7, 10, 15, 20, 30, 40, 50, 60, 80, 100],
    "smart-turn": [1, 2, 3, 4, 5, 7, 10, 15, 20, 30, 40, 50],
}
#: ``--quick``: coarser steps, so a mode takes a handful of levels.
QUICK_LEVELS = {
    "flux": [1, 4, 8, 12, 16, 24, 32, 48, 64],
    "smart-turn": [1, 2, 4, 6, 8, 12, 16],
}
#: WebRTC callers (``switchboard-webrtc``, Flux only): aiortc peers on the load generator's
#: core cost far more than a Twilio websocket, so its steps are finer and stop sooner.
WEBRTC_LEVELS = [1, 3, 5, 8, 12, 16, 20, 24, 32]
#: The turn modes the WebRTC system is measured in.
WEBRTC_TURNS = ("flux",)
QUICK = {"turns": 2, "reference_turns": 4, "bisect": 1, "leak_calls": 100}
#: The 1-call run is the reference for the v2v bound: it gets more turns (more samples).
#: With 6, its p95 was its slowest turn, and one slow turn loosened the bound by 100-200 ms
#: (BENCHMARKS.md, notes on the Smart Turn reference); 16 gives a p95 between the two
#: slowest.
REFERENCE_TURNS = 16


def quarters_mb(trace: list[tuple[float, int]]) -> list[float]:
    """RSS (MB) of the last sample in each quarter of a trace's duration."""
    if not trace:
        return []
    end = trace[-1][0] or 1.0
    out: list[float] = []
    for q in (0.25, 0.5, 0.75, 1.0):
        upto = [b for t, b in trace if t <= end * q]
        out.append(round((upto[-1] if upto else trace[0][1]) / 2**20, 1))
    return out


def run_level(
    server: Server,
    calls: int,
    turns: int,
    core: int | None,
    workdir: Path,
    total_calls: int | None = None,
    ramp: float | None = None,
    pace: str = "dense",
) -> dict[str, Any]:
    """One load-generator run at ``calls`` concurrent calls of ``pace`` callers (``dense``:
    answers 0.3-0.8 s after the bot, 1.5-2.5 s lines, calls started over 5 s; ``sparse``);
    returns its summary + RSS + the server's CPU (per call and per caller turn)."""
    out = workdir / f"{server.name}-{calls}-{time.monotonic_ns()}.json"
    argv = [
        PY,
        "-m",
        "loadgen",
        "--url",
        server.url,
        *server.loadtest_args,
        "--calls",
        str(calls),
        "--turns",
        str(turns),
        "--pace",
        pace,
        *(["--ramp", str(ramp)] if ramp else []),
        "--json",
        str(out),
        "--quiet",
    ]
    if total_calls:
        argv += ["--total-calls", str(total_calls)]
    idle = rss_bytes(server.proc.pid)
    sampler = RssSampler(server.proc.pid)
    sampler.start()
    load_before = os.getloadavg()[0]
    cpu0 = cpu_seconds(server.proc.pid)
    children0 = helper_cpu_seconds(server)
    wait0 = runqueue_wait_seconds(server.proc.pid)
    t0 = time.monotonic()
    proc = subprocess.run(pinned(core, argv), cwd=ROOT, capture_output=True, text=True, timeout=1800)
    peak = sampler.stop()
    busy = cpu_seconds(server.proc.pid) - cpu0
    children = helper_cpu_seconds(server) - children0
    waited = runqueue_wait_seconds(server.proc.pid) - wait0
    wall = time.monotonic() - t0
    load_after = os.getloadavg()[0]
    time.sleep(2.0)  # let the server tear the calls down
    after = rss_bytes(server.proc.pid)
    if not out.exists():
        raise RuntimeError(f"load generator failed ({proc.returncode}): {proc.stderr[-2000:]}")
    summary = json.loads(out.read_text())
    summary["wall_seconds"] = round(time.monotonic() - t0, 1)
    summary["rss"] = {
        "idle_mb": idle / 2**20,
        "peak_mb": peak / 2**20,
        "after_mb": after / 2**20,
        "per_call_mb": (peak - idle) / 2**20 / max(calls, 1),
        # RSS at the end of each quarter of the run: flat late quarters = no growth per call
        "quarters_mb": quarters_mb(sampler.trace),
        "trace_mb": [[t, round(b / 2**20, 1)] for t, b in sampler.trace],
    }
    summary["server_alive"] = server.proc.poll() is None
    # CPU the server used while the calls ran: a figure that other load on the machine
    # disturbs far less than latencies do.
    summary["server_cpu"] = {
        "seconds": round(busy, 2),
        "wall_seconds": round(wall, 2),
        "core_fraction": round(busy / wall, 3) if wall else None,
        "per_call_core_fraction": round(busy / wall / max(calls, 1), 4) if wall else None,
        "runqueue_wait_seconds": round(waited, 2),
        # the whole run's CPU (set-up, greetings, hang-ups included) per caller turn
        "per_turn_ms": round(1000 * busy / summary["turns"], 1) if summary.get("turns") else None,
        # the processes working for the server on its core (embedded PostgreSQL, offline
        # engine workers; none for the bare bot), not in the figures above
        "children_seconds": round(children, 2),
        "children_per_turn_ms": (
            round(1000 * children / summary["turns"], 1) if summary.get("turns") else None
        ),
    }
    summary["machine_load"] = {"before": load_before, "after": load_after}
    return summary


def passes(summary: dict[str, Any], v2v_p95_1call: float | None) -> tuple[bool, str]:
    lag = summary["loadgen_send_lag_ms"]["p99"]
    if lag is not None and lag > LOADGEN_LAG_P99_MS:
        # the caller side was starved (the machine is shared): the figures say nothing
        return False, f"invalid run: load generator send lag p99 {lag} ms > {LOADGEN_LAG_P99_MS}"
    late = summary["lateness_ms"]
    v2v = summary["voice_to_voice_ms"]
    if summary["calls"]["failed"]:
        return False, f"{summary['calls']['failed']} calls failed"
    if late["p99"] is None or late["p99"] > LATENESS_P99_MS:
        return False, f"lateness p99 {late['p99']} ms > {LATENESS_P99_MS}"
    if late["max"] is not None and late["max"] > LATENESS_MAX_MS:
        return False, f"a frame {late['max']} ms late > {LATENESS_MAX_MS}"
    if (
        v2v_p95_1call is not None
        and v2v["p95"] is not None
        and (v2v["p95"] > v2v_p95_1call + V2V_P95_SLACK_MS)
    ):
        return False, f"v2v p95 {v2v['p95']} ms > 1-call {v2v_p95_1call} + {V2V_P95_SLACK_MS}"
    return True, "ok"


def log(msg: str) -> None:
    print(f"[bench {dt.datetime.now(dt.UTC):%H:%M:%S}] {msg}", flush=True)


def capacity_search(
    server: Server,
    levels: list[int],
    turns: int,
    core: int | None,
    workdir: Path,
    bisect_steps: int,
    retry_failures: bool = True,
    reference_turns: int = REFERENCE_TURNS,
    pace: str = "dense",
) -> dict[str, Any]:
    runs: dict[int, dict[str, Any]] = {}

    def run(n: int) -> tuple[bool, str]:
        # the 1-call figure is the reference for the v2v bound: give it more turns
        s = run_level(server, n, turns if n > 1 else max(turns, reference_turns), core, workdir, pace=pace)
        ok, why = passes(s, runs[1]["voice_to_voice_ms"]["p95"] if 1 in runs else None)
        if not ok and retry_failures:
            # other work on a shared machine can fail one run: a level fails when it fails twice
            log(f"{server.name} {n:3d} calls: failed once ({why}), running it again")
            first = s
            first["verdict"] = why
            s = run_level(server, n, turns, core, workdir, pace=pace)
            ok, why = passes(s, runs[1]["voice_to_voice_ms"]["p95"] if 1 in runs else None)
            s["first_attempt"] = first
        s["pass"], s["verdict"] = ok, why
        runs[n] = s
        log(
            f"{server.name} {n:3d} calls: {'PASS' if ok else 'FAIL'} ({why}); "
            f"v2v p50/p95 {s['voice_to_voice_ms']['p50']}/{s['voice_to_voice_ms']['p95']} ms, "
            f"lateness p99/max {s['lateness_ms']['p99']}/{s['lateness_ms']['max']} ms, "
            f"setup p95 {s['setup_ms']['p95']} ms, rss/call {s['rss']['per_call_mb']:.1f} MB, "
            f"loadgen lag p99 {s['loadgen_send_lag_ms']['p99']} ms"
        )
        return ok, why

    best, worst = 0, None
    for n in levels:
        ok, _ = run(n)
        if not ok:
            worst = n
            break
        best = n
    for _ in range(bisect_steps):
        if worst is None or worst - best <= 1:
            break
        mid = (best + worst) // 2
        if mid in runs:
            break
        ok, _ = run(mid)
        if ok:
            best = mid
        else:
            worst = mid
    return {"capacity": best, "first_failure": worst, "levels": {str(k): v for k, v in sorted(runs.items())}}


def bench_system(name: str, turn: str, args: argparse.Namespace, workdir: Path, fakes: str) -> dict[str, Any]:
    if name == "baseline":
        server = start_baseline(turn, fakes, args.server_core, workdir)
    else:
        server = start_switchboard(
            turn, fakes, args.server_core, workdir, gc_freeze=name != "switchboard-no-gc-freeze",
            webrtc=name == "switchboard-webrtc",
        )  # fmt: skip
    try:
        if name == "baseline":
            time.sleep(1.0)
        else:
            wait_warm(server.url)
        # the first call after start-up: its set-up is reported; its other figures not counted
        first = run_level(server, 1, 1, args.client_core, workdir, pace=args.pace)
        log(f"{name} first call after start-up: setup {first['setup_ms']['p50']} ms")
        levels = args.levels or (
            WEBRTC_LEVELS if name == "switchboard-webrtc"
            else (QUICK_LEVELS if args.quick else LEVELS)[turn]
        )  # fmt: skip
        result = capacity_search(
            server,
            levels,
            args.turns,
            args.client_core,
            workdir,
            args.bisect,
            reference_turns=args.reference_turns,
            pace=args.pace,
        )
        result["first_call"] = {"setup_ms": first["setup_ms"], "server_cpu": first["server_cpu"]}
        cap = result["capacity"]
        eot = EOT_WAIT[turn]
        one = result["levels"].get("1")
        at80 = None
        n80 = max(1, int(cap * 0.8))
        if cap >= 2:
            at80 = run_level(server, n80, args.turns, args.client_core, workdir, pace=args.pace)
            log(f"{name} at 80% ({n80}): v2v p95 {at80['voice_to_voice_ms']['p95']} ms")
        result["at_80pct"] = {"calls": n80, "summary": at80}
        result["eot_wait_ms"] = eot * 1000

        def added(s: dict[str, Any] | None) -> dict[str, float | None] | None:
            if not s:
                return None
            v = s["voice_to_voice_ms"]
            return {q: (None if v[q] is None else round(v[q] - eot * 1000, 1)) for q in ("p50", "p95", "p99")}

        result["server_added_ms"] = {"1_call": added(one), "80pct": added(at80)}
        if args.leak_calls and name in args.leak_systems.split(","):
            conc = max(1, args.leak_concurrency)  # completion matters here, not quality
            leak = run_level(
                server, conc, 1, args.client_core, workdir,
                total_calls=args.leak_calls, ramp=10.0, pace=args.pace,
            )  # fmt: skip
            result["leak"] = {
                "calls": args.leak_calls,
                "concurrency": conc,
                "failed": leak["calls"]["failed"],
                "rss": leak["rss"],
            }
            log(
                f"{name} leak: {args.leak_calls} calls, rss idle {leak['rss']['idle_mb']:.0f} "
                f"→ after {leak['rss']['after_mb']:.0f} MB (quarters {leak['rss']['quarters_mb']})"
            )
        return result
    finally:
        server.stop()
