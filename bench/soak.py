"""Soak: N concurrent callers, replaced as they hang up, for a set duration; per-minute figures.

    python -m bench.soak [--calls N] [--minutes 10] [--turn flux] [--pace dense]

Starts the fake providers and a ``switchboard serve`` pinned to one core (as ``make bench``),
then keeps ``--calls`` Twilio-like callers live (default: 80 % of the last measured capacity in
``bench/results``, else 12) for ``--minutes``. Every minute it reports the calls that ended in
that minute (bot-audio lateness p50/p99/max, voice-to-voice p95, failures) beside readings of
the server (RSS, open file descriptors, the event-loop lag and database-pool gauges it exports
on ``/metrics`` when it has them). Writes ``bench/results/soak-<date>.json`` (+ a plot with the
``bench`` group) and, with ``--render``, the soak block of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.processes import ROOT, machine, rss_bytes, start_fakes
from bench.switchboard_target import start_switchboard
from loadgen.report import percentile
from loadgen.script import CallResult

RESULTS = ROOT / "bench" / "results"
START, END = "<!-- soak:start -->", "<!-- soak:end -->"
DEFAULT_CALLS = 12
CAPACITY_SHARE = 0.8
SAMPLE_SECONDS = 5.0


@dataclass
class Minute:
    """What was seen in one minute of the run."""

    index: int
    results: list[CallResult] = field(default_factory=list)
    server: dict[str, float | None] = field(default_factory=dict)

    def figures(self) -> dict[str, Any]:
        late = [x * 1000 for r in self.results for x in r.timeline.lateness]
        v2v = [v * 1000 for r in self.results for v in r.timeline.voice_to_voice()]
        return {
            "minute": self.index + 1,
            "calls": len(self.results),
            "failed": sum(1 for r in self.results if not r.ok),
            "lateness_ms": {
                "p50": _round(percentile(late, 50)),
                "p99": _round(percentile(late, 99)),
                "max": _round(max(late) if late else None),
                "over_100ms": sum(1 for x in late if x > 100),
            },
            "v2v_p95_ms": _round(percentile(v2v, 95)),
            "errors": sorted({e for r in self.results for e in r.errors})[:5],
            "server": self.server,
        }


def _round(v: float | None) -> float | None:
    return None if v is None else round(v, 1)


def open_fds(pid: int) -> int | None:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None


SCRAPED = ("event_loop_lag", "event_loop_stalls", "gc_pause", "gc_collected", "db_pool")


def scrape(text: str) -> dict[str, float]:
    """The loop-health and database-pool samples of a Prometheus text page (names with one of
    ``SCRAPED`` in them, labels kept; histogram buckets and ``_created`` left out)."""
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("#") or not any(k in line for k in SCRAPED):
            continue
        name, _, value = line.rpartition(" ")
        if "_bucket" in name or name.endswith("_created"):
            continue
        with contextlib.suppress(ValueError):
            out[name] = float(value)
    return out


def lag_buckets(text: str) -> dict[float, float]:
    """Cumulative counts of the event-loop lag histogram by upper bound (seconds)."""
    out: dict[float, float] = {}
    for line in text.splitlines():
        if line.startswith("switchboard_event_loop_lag_seconds_bucket{"):
            le = line.split('le="', 1)[1].split('"', 1)[0]
            out[float(le)] = float(line.rpartition(" ")[2])
    return out


def bucket_quantile(before: dict[float, float], after: dict[float, float], q: float) -> float | None:
    """The upper bound of the bucket holding quantile ``q`` of the samples taken between two
    readings of a cumulative histogram (None without samples)."""
    bounds = sorted(after)
    counts = [after[b] - before.get(b, 0.0) for b in bounds]
    if not counts or counts[-1] <= 0:
        return None
    for bound, count in zip(bounds, counts, strict=True):
        if count >= q * counts[-1]:
            return bound
    return bounds[-1]


def server_minute(
    prev: dict[str, Any], cur: dict[str, Any], lag_max: float | None
) -> dict[str, float | None]:
    """What the server exported during one minute, from the readings at its start and end:
    loop lag p99 (bucket bound) and max (largest 10 s window seen), stalls, full (generation
    2) collections and their longest pause, pool use."""
    before, after = prev.get("metrics", {}), cur.get("metrics", {})

    def delta(name: str) -> float | None:
        return None if name not in after else after[name] - before.get(name, 0.0)

    gen2 = 'switchboard_gc_pause_seconds_count{generation="2"}'
    gen2_sum = 'switchboard_gc_pause_seconds_sum{generation="2"}'
    p99 = bucket_quantile(prev.get("buckets", {}), cur.get("buckets", {}), 0.99)
    collections, seconds = delta(gen2), delta(gen2_sum)
    mean = round(seconds / collections * 1000, 1) if collections and seconds is not None else None
    return {
        "loop_lag_p99_ms": None if p99 is None else round(p99 * 1000, 1),
        "loop_lag_max_ms": None if lag_max is None else round(lag_max * 1000, 1),
        "loop_stalls": delta("switchboard_event_loop_stalls_total"),
        "gc_full_collections": collections,
        "gc_full_ms_mean": mean,
        "gc_full_collected": delta('switchboard_gc_collected_objects_total{generation="2"}'),
        "db_pool_in_use": after.get("switchboard_db_pool_in_use"),
        "db_pool_size": after.get("switchboard_db_pool_size"),
    }


def default_calls() -> int:
    """80 % of the newest measured Flux capacity of Switchboard, else ``DEFAULT_CALLS``."""
    for path in sorted(RESULTS.glob("20*.json"), reverse=True):
        with contextlib.suppress(ValueError, OSError, AttributeError, TypeError):
            cap = json.loads(path.read_text())["results"]["switchboard"]["flux"]["capacity"]
            if cap:
                return max(1, int(cap * CAPACITY_SHARE))
    return DEFAULT_CALLS


async def soak(url: str, loadtest_args: list[str], pid: int, args: argparse.Namespace) -> list[Minute]:
    from loadgen.cli import add_parser, config_from_args
    from loadgen.twilio_caller import TwilioLoadCaller

    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers(dest="command"))
    target, script, _ = config_from_args(
        parser.parse_args(
            ["loadtest", "--url", url, *loadtest_args, "--pace", args.pace, "--turns", str(args.turns)]
        )
    )
    minutes = [Minute(i) for i in range(int(args.minutes + 1))]
    t0 = time.monotonic()
    stop_at = t0 + args.minutes * 60
    index = 0

    def minute_of(t: float) -> Minute:
        return minutes[min(int((t - t0) // 60), len(minutes) - 1)]

    async def read(http: httpx.AsyncClient) -> dict[str, Any]:
        with contextlib.suppress(httpx.HTTPError):
            text = (await http.get(f"{url}/metrics", timeout=5.0)).text
            return {"metrics": scrape(text), "buckets": lag_buckets(text)}
        return {}

    async def sampler(http: httpx.AsyncClient) -> None:
        prev = await read(http)
        for m in minutes:
            lag_max: float | None = None
            end = t0 + (m.index + 1) * 60
            while (left := end - time.monotonic()) > 0:  # the 10 s lag-max gauge, every 5 s
                await asyncio.sleep(min(SAMPLE_SECONDS, left))
                gauge = (await read(http)).get("metrics", {}).get("switchboard_event_loop_lag_max_seconds")
                if gauge is not None:
                    lag_max = max(lag_max or 0.0, gauge)
            cur = await read(http)
            m.server = {"rss_mb": round(rss_bytes(pid) / 2**20, 1), "open_fds": open_fds(pid),
                        **server_minute(prev, cur, lag_max)}  # fmt: skip
            prev = cur
            print(json.dumps(m.figures()), file=sys.stderr, flush=True)

    async def caller(http: httpx.AsyncClient, slot: int) -> None:
        nonlocal index
        await asyncio.sleep(slot * 5.0 / args.calls)  # start the callers over 5 s
        while time.monotonic() < stop_at:
            index += 1
            result = await TwilioLoadCaller(index, target, script, http).run()
            minute_of(time.monotonic()).results.append(result)

    limits = httpx.Limits(max_connections=args.calls * 2, max_keepalive_connections=0)
    async with httpx.AsyncClient(timeout=30.0, limits=limits) as http:
        sample = asyncio.create_task(sampler(http))
        await asyncio.gather(*(caller(http, s) for s in range(args.calls)))
        sample.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sample
    return [m for m in minutes if m.results or m.server]


def _load_line(report: dict[str, Any]) -> list[str]:
    load = report.get("load_average")
    if not load:
        return []
    start, end = (" / ".join(f"{x:g}" for x in load[k]) for k in ("start", "end"))
    return [f"Machine load average (1 / 5 / 15 min) at start {start}, at end {end} "
            f"({report['machine'].get('cores', '?')} cores)."]  # fmt: skip


def _cell(v: float | None) -> str:
    if v is None:
        return "—"
    return f"{v:g}" if isinstance(v, float) else str(v)


def render(report: dict[str, Any], path: Path) -> None:
    """Replace the soak block of ``path`` with the per-minute table of ``report``."""
    rows = [
        f"Soak of {report['calls']} concurrent {report['pace']} callers ({report['turn']}) for "
        f"{report['minutes']} min on {report['date'][:10]}; `python -m bench.soak` "
        f"(`{report['results_file']}`).",
        *_load_line(report),
        "",
        "| minute | calls | failed | lateness p50 / p99 / max (ms) | frames > 100 ms | v2v p95 (ms) "
        "| loop lag p99 / max (ms) | stalls > 50 ms | full GCs (mean ms) | RSS (MB) | open fds "
        "| db pool in use / size |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for m in report["per_minute"]:
        late, srv = m["lateness_ms"], m["server"]
        rows.append(
            f"| {m['minute']} | {m['calls']} | {m['failed']} | {late['p50']} / {late['p99']} / "
            f"{late['max']} | {late['over_100ms']} | {m['v2v_p95_ms']} | "
            f"{_cell(srv.get('loop_lag_p99_ms'))} / {_cell(srv.get('loop_lag_max_ms'))} | "
            f"{_cell(srv.get('loop_stalls'))} | {_cell(srv.get('gc_full_collections'))} "
            f"({_cell(srv.get('gc_full_ms_mean'))}) | {_cell(srv.get('rss_mb'))} | "
            f"{_cell(srv.get('open_fds'))} | {_cell(srv.get('db_pool_in_use'))} / "
            f"{_cell(srv.get('db_pool_size'))} |"
        )
    text = path.read_text()
    block = f"{START}\n" + "\n".join(rows) + f"\n{END}"
    if START in text and END in text:
        text = text.split(START)[0] + block + text.split(END, 1)[1]
    else:
        text += f"\n## Soak\n\n{block}\n"
    path.write_text(text)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--calls", type=int, default=None, help="concurrent callers (default: 80%% of capacity)")
    p.add_argument("--minutes", type=float, default=10.0)
    p.add_argument("--turn", default="flux", choices=("flux", "smart-turn"))
    p.add_argument("--pace", default="dense", choices=("dense", "sparse"))
    p.add_argument("--turns", type=int, default=3, help="caller turns per call")
    p.add_argument("--server-core", type=int, default=0)
    p.add_argument("--client-core", type=int, default=1)
    p.add_argument("--out", default=None)
    p.add_argument("--render", default=None, help="update this markdown file's soak block")
    args = p.parse_args()
    args.calls = args.calls or default_calls()
    load_start = os.getloadavg()
    workdir = Path(tempfile.mkdtemp(prefix="switchboard-soak-"))
    if args.client_core is not None and hasattr(os, "sched_setaffinity"):
        with contextlib.suppress(OSError):
            os.sched_setaffinity(0, {args.client_core})
    fakes_proc, fakes = start_fakes(args.client_core, workdir)
    server = None
    try:
        server = start_switchboard(args.turn, fakes, args.server_core, workdir)
        print(f"soak: {args.calls} callers for {args.minutes} min against {server.url}", file=sys.stderr)
        minutes = asyncio.run(soak(server.url, server.loadtest_args, server.proc.pid, args))
    finally:
        if server is not None:
            server.stop()
        fakes_proc.terminate()
        fakes_proc.wait(10)
    now = dt.datetime.now(dt.UTC)
    out = Path(args.out) if args.out else RESULTS / f"soak-{now.date().isoformat()}.json"
    report = {
        "date": now.isoformat(timespec="seconds"),
        "machine": machine(),
        "calls": args.calls,
        "minutes": args.minutes,
        "turn": args.turn,
        "pace": args.pace,
        "results_file": str(out.relative_to(ROOT)) if out.is_relative_to(ROOT) else str(out),
        "load_average": {"start": [round(x, 2) for x in load_start],
                         "end": [round(x, 2) for x in os.getloadavg()]},  # fmt: skip
        "per_minute": [m.figures() for m in minutes],
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    print(f"wrote {out}", file=sys.stderr)
    with contextlib.suppress(ImportError):
        from bench.plot import plot_soak

        print(f"plot {plot_soak(out)}", file=sys.stderr)
    if args.render:
        render(report, Path(args.render))
    failed = sum(m["failed"] for m in report["per_minute"])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
