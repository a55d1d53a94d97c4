"""Profile a server under load with py-spy: where the one core goes.

    python -m bench.profile --system switchboard --turn flux --calls 5 [--seconds 40]

Starts the fakes and the server like ``bench/run.py`` (same pinning), records the server
with ``py-spy record --format raw`` while the load generator runs ``--calls`` calls, and
prints the functions with the most samples: inclusive (on the stack) and self (on top).
The raw collapsed stacks are kept next to the printed summary for flame graphs.
"""

from __future__ import annotations

import argparse
import collections
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from bench.capacity import run_level
from bench.processes import start_baseline, start_fakes
from bench.run import RESULTS


def summarize(raw: Path, top: int = 40) -> str:
    inclusive: collections.Counter[str] = collections.Counter()
    self_: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        n = int(count)
        total += n
        frames = stack.split(";")
        for f in set(frames):
            inclusive[_short(f)] += n
        self_[_short(frames[-1])] += n
    out = [f"{total} samples", "", "inclusive (% of samples with the function on the stack):"]
    out += [f"  {100 * n / total:5.1f}%  {f}" for f, n in inclusive.most_common(top)]
    out += ["", "self (% of samples with the function on top):"]
    out += [f"  {100 * n / total:5.1f}%  {f}" for f, n in self_.most_common(top)]
    return "\n".join(out)


def _short(frame: str) -> str:
    # "function (path/to/module.py:123)" -> "function (module/path.py)" without line numbers
    name, _, where = frame.partition(" (")
    where = where.rstrip(")").rsplit(":", 1)[0]
    for marker in ("site-packages/", "/work/main/"):
        if marker in where:
            where = where.split(marker, 1)[1]
    return f"{name} ({where})"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--system", choices=["switchboard", "switchboard-no-gc-freeze", "baseline"], default="switchboard"
    )
    p.add_argument("--turn", choices=["smart-turn", "flux"], default="flux")
    p.add_argument("--calls", type=int, default=5)
    p.add_argument("--turns", type=int, default=3)
    p.add_argument("--server-core", type=int, default=0)
    p.add_argument("--client-core", type=int, default=1)
    p.add_argument("--rate", type=int, default=100, help="py-spy samples per second")
    p.add_argument("--native", action="store_true", help="include native (C) frames in the stacks")
    p.add_argument(
        "--perf", action="store_true", help="record with Linux perf (native code: syscalls, C libraries)"
    )
    args = p.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="switchboard-profile-"))
    fakes_proc, fakes = start_fakes(args.client_core, workdir)
    if args.system == "baseline":
        server = start_baseline(args.turn, fakes, args.server_core, workdir)
    else:
        from bench.switchboard_target import start_switchboard

        server = start_switchboard(
            args.turn, fakes, args.server_core, workdir, gc_freeze=args.system != "switchboard-no-gc-freeze"
        )
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    raw = RESULTS / f"profile-{args.system}-{args.turn}-{args.calls}calls-{stamp}.txt"
    try:
        run_level(server, 1, 1, args.client_core, workdir)  # warm-up
        spy = shutil.which("py-spy") or str(Path(__import__("sys").executable).with_name("py-spy"))
        if args.perf:
            data = raw.with_suffix(".perf.data")
            rec = subprocess.Popen(
                ["perf", "record", "-F", "499", "-g", "-p", str(server.proc.pid), "-o", str(data)],
                stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
            )  # fmt: skip
            time.sleep(1.0)
            run_level(server, args.calls, args.turns, args.client_core, workdir)
            rec.send_signal(2)
            rec.wait(60)
            print(f"perf data: {data} (perf report -i ... --no-children)")
            return
        rec = subprocess.Popen(
            [spy, "record", "--pid", str(server.proc.pid), "--format", "raw", "--rate",
             str(args.rate), "--output", str(raw), "--nonblocking", *(["--native"] if args.native else [])],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
        )  # fmt: skip
        time.sleep(1.0)
        summary = run_level(server, args.calls, args.turns, args.client_core, workdir)
        rec.send_signal(2)  # SIGINT: py-spy writes its output and exits
        rec.wait(30)
    finally:
        server.stop()
        fakes_proc.terminate()
    print(
        f"{args.calls} calls: v2v p95 {summary['voice_to_voice_ms']['p95']} ms, lateness p99 "
        f"{summary['lateness_ms']['p99']} ms, server cpu {summary['server_cpu']}"
    )
    text = summarize(raw)
    raw.with_suffix(".summary.txt").write_text(text)
    print(text)
    print(f"raw stacks: {raw}")


if __name__ == "__main__":
    main()
