"""Where a server's event-loop time goes, by task: the loop's own profile under load.

    python -m bench.loop_tasks [--turn flux] [--calls 10] [--turns 3] [--top 30]

py-spy names the Python frames a sample caught, not which call's task they serve, and on a
loaded uvloop server it leaves about 40 % of its samples at ``Runner.run`` with no frame
under it (``perf`` puts ~78 % of the same server's CPU in the interpreter, ~4 % in uvloop:
those samples are Python code py-spy could not walk). This starts the fakes and a
Switchboard server like ``bench/run.py`` (same pinning) with ``bench/loop_tasks_site`` on
its ``PYTHONPATH``: its ``sitecustomize`` times every callback the loop runs and adds it up
by task (a pipecat task by its name without numbers, e.g.
``pipecat:DeepgramFluxSTTService::__input_frame_task_handler``). After a warm-up call the
load generator runs ``--calls`` dense calls; the table gives, per caller turn, each task's
loop CPU and how many times it ran, so a task that runs once per 20 ms frame shows as ~50
runs a second of call; two more columns give its runs longer than 1 ms and their CPU (a
long callback makes every other call's next step wait). The server runs on the stdlib
asyncio loop for this (uvloop's callbacks are out of reach) and the timing adds to every
callback: compare tasks with each other and runs with each other, not with ``make bench``.
BENCHMARKS.md (step 20, "Bottleneck") has runs.
The table is printed and written to ``bench/results/loop-tasks-<turn>-<calls>calls-<time>.txt``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.capacity import run_level
from bench.processes import ROOT, start_fakes
from bench.run import report_lines
from bench.switchboard_target import start_switchboard, wait_warm

SITE = ROOT / "bench" / "loop_tasks_site"

Totals = dict[str, list[float]]


def read_totals(prefix: Path) -> dict[str, Totals]:
    """Each process's last written totals (``<prefix>.<pid>``)."""
    out: dict[str, Totals] = {}
    for path in prefix.parent.glob(prefix.name + ".*"):
        if path.suffix != ".tmp":
            out[path.name] = json.loads(path.read_text())
    return out


def difference(before: Totals, after: Totals) -> Totals:
    """What ran between two snapshots of one process (each figure of a name subtracted)."""
    return {
        name: [x - y for x, y in zip(now, before.get(name) or [0] * len(now), strict=True)]
        for name, now in after.items()
    }


def table(during: Totals, turns: int, top: int) -> list[str]:
    """Per caller turn: the process CPU, the loop callbacks' CPU (and how much of it ran in
    callbacks longer than 1 ms), then the top tasks."""
    during = dict(during)
    process = during.pop("__process__", [0, 0.0])[1]
    loop = sum(entry[1] for entry in during.values())
    long = sum(entry[3] for entry in during.values())
    lines = [
        f"per caller turn ({turns} turns): process CPU {1000 * process / turns:.1f} ms, "
        f"loop callbacks {1000 * loop / turns:.1f} ms ({1000 * long / turns:.1f} ms in runs "
        "longer than 1 ms)",
        f"{'ms/turn':>8} {'runs/turn':>10} {'>1ms/turn':>10} {'ms >1ms':>8}  task or callback",
    ]
    ranked = sorted(during.items(), key=lambda item: -item[1][1])[:top]
    for name, entry in ranked:
        runs, seconds, long_runs, long_seconds = entry
        lines.append(f"{1000 * seconds / turns:8.2f} {runs / turns:10.1f} "
                     f"{long_runs / turns:10.2f} {1000 * long_seconds / turns:8.2f}  {name}")
    return lines


def measure(turn: str, calls: int, turns: int, server_core: int, client_core: int,
            top: int) -> list[str]:  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="switchboard-loop-tasks-") as tmp:
        return _measure(Path(tmp), turn, calls, turns, server_core, client_core, top)


def _measure(workdir: Path, turn: str, calls: int, turns: int, server_core: int,
             client_core: int, top: int) -> list[str]:  # fmt: skip
    prefix = workdir / "loop-tasks"
    fakes_proc, fakes = start_fakes(client_core, workdir)
    server = start_switchboard(
        turn, fakes, server_core, workdir,
        settings={"PYTHONPATH": str(SITE), "LOOP_TASKS_OUT": str(prefix)},
    )  # fmt: skip
    try:
        wait_warm(server.url)
        run_level(server, 1, 1, client_core, workdir)  # the first call's lazy work, not counted
        time.sleep(2.5)  # the hook writes every 2 s
        before = read_totals(prefix)
        summary: dict[str, Any] = run_level(server, calls, turns, client_core, workdir)
        time.sleep(2.5)
        after = read_totals(prefix)
    finally:
        server.stop()
        fakes_proc.terminate()
    if not after:
        raise SystemExit(f"the server wrote no loop totals to {prefix}.*: was the hook loaded?")
    # the server is the process that used the most CPU (engine workers load the hook too)
    name = max(after, key=lambda n: after[n].get("__process__", [0, 0.0])[1])
    lines = [f"{turn}, {calls} dense calls x {turns} turns; failed calls: "
             f"{summary['calls']['failed']}; v2v p50 {summary['voice_to_voice_ms']['p50']} ms"]  # fmt: skip
    return lines + table(difference(before.get(name, {}), after[name]), summary["turns"], top)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--turn", choices=["smart-turn", "flux"], default="flux")
    p.add_argument("--calls", type=int, default=10)
    p.add_argument("--turns", type=int, default=3)
    p.add_argument("--top", type=int, default=30)
    p.add_argument("--server-core", type=int, default=0)
    p.add_argument("--client-core", type=int, default=1)
    args = p.parse_args()
    lines = measure(args.turn, args.calls, args.turns, args.server_core, args.client_core, args.top)
    report_lines(f"loop-tasks-{args.turn}-{args.calls}calls", lines)


if __name__ == "__main__":
    main()
