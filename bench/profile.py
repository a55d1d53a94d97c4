"""Profile a server under load with py-spy: where the one core goes.

    python -m bench.profile --system switchboard --turn flux --calls 5 [--seconds 40]
    python -m bench.profile --first-call [--turn flux]


Starts the fakes and the server like ``bench/run.py`` (same pinning), records the server
with ``py-spy record --format raw`` while the load generator runs ``--calls`` calls, and
prints the functions with the most samples: inclusive (on the stack) and self (on top).
The raw collapsed stacks are kept next to the printed summary for flame graphs.

``--first-call`` profiles call set-up instead: it starts the server, places the first call
after start-up and then two more, one at a time, each recorded on its own; it prints each
call's set-up time (media start → first greeting audio) and the functions on the stack in
the first call that the third call does not need (what is still initialised lazily).
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
from bench.processes import Server, start_baseline, start_fakes
from bench.run import RESULTS


def perf_summary(data: Path, top: int = 40) -> str:
    """``perf report``'s CPU by shared object (the interpreter, the kernel, uvloop, ...) and
    its top symbols, without call graphs."""
    parts = []
    for sort in ("dso", "sym"):
        out = subprocess.run(
            ["perf", "report", "-i", str(data), "--no-children", "--sort", sort, "-g", "none",
             "--stdio"], capture_output=True, text=True, check=False,
        ).stdout  # fmt: skip
        rows = [line for line in out.splitlines() if line.strip() and not line.startswith("#")]
        parts.append(f"by {sort}:\n" + "\n".join(rows[:top]))
    return "\n\n".join(parts) + "\n"


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


def _record(spy: str, pid: int, raw: Path, rate: int) -> subprocess.Popen:
    return subprocess.Popen(
        [spy, "record", "--pid", str(pid), "--format", "raw", "--rate", str(rate),
         "--output", str(raw), "--nonblocking"],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
    )  # fmt: skip


def _counts(raw: Path) -> collections.Counter[str]:
    inclusive: collections.Counter[str] = collections.Counter()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack:
            for f in {_short(f) for f in stack.split(";")}:
                inclusive[f] += int(count)
    return inclusive


def _busy(raw: Path) -> int:
    return sum(int(line.rpartition(" ")[2]) for line in raw.read_text().splitlines() if line.strip())


def first_call(server: Server, spy: str, core: int | None, workdir: Path, stem: Path, rate: int) -> None:
    """Profile the first three calls after start-up, one at a time (see the module doc)."""
    from bench.switchboard_target import wait_warm

    print(f"waited {wait_warm(server.url):.1f} s for the warm-up after provisioning")
    raws, setups = [], []
    for i in range(3):
        raw = stem.with_name(f"{stem.name}-call{i + 1}.txt")
        rec = _record(spy, server.proc.pid, raw, rate)
        time.sleep(1.0)
        s = run_level(server, 1, 1, core, workdir)
        rec.send_signal(2)
        rec.wait(30)
        setups.append(s["setup_ms"]["p50"])
        raws.append(raw)
    print("call set-up after start-up (ms): " + ", ".join(f"call {i + 1}: {v}" for i, v in enumerate(setups)))
    first, third = _counts(raws[0]), _counts(raws[2])
    extra = collections.Counter({f: n - third.get(f, 0) for f, n in first.items() if n > third.get(f, 0)})
    print(f"py-spy at {rate}/s; busy samples: call 1 {_busy(raws[0])}, call 3 {_busy(raws[2])}")
    print("on the stack in call 1 more than in call 3 (samples):")
    for f, n in extra.most_common(60):
        print(f"  {n:5d}  {f}")
    print(f"raw stacks: {', '.join(map(str, raws))}")


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
    p.add_argument(
        "--first-call", action="store_true", help="profile the first calls after start-up (set-up time)"
    )
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
    spy = shutil.which("py-spy") or str(Path(__import__("sys").executable).with_name("py-spy"))
    try:
        if args.first_call:
            first_call(server, spy, args.client_core, workdir, raw.with_suffix(""), max(args.rate, 500))
            return
        run_level(server, 1, 1, args.client_core, workdir)  # warm-up
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
            text = perf_summary(data)
            data.with_suffix(".summary.txt").write_text(text)
            print(text)
            print(f"perf data: {data} (perf report -i ... --no-children)")
            return
        spy_log = workdir / "py-spy.log"
        rec = subprocess.Popen(
            [spy, "record", "--pid", str(server.proc.pid), "--format", "raw", "--rate",
             str(args.rate), "--output", str(raw), "--nonblocking", *(["--native"] if args.native else [])],
            stdout=spy_log.open("w"), stderr=subprocess.STDOUT,
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
    if not raw.exists():
        raise SystemExit(f"py-spy wrote no profile; its output:\n{spy_log.read_text()[-2000:]}")
    text = summarize(raw)
    raw.with_suffix(".summary.txt").write_text(text)
    print(text)
    print(f"raw stacks: {raw}")


if __name__ == "__main__":
    main()
