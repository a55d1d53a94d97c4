"""Where the server's share of a reply goes, by stage, at 1 call and under load.

    python -m bench.turn_stages [--turn flux] [--calls 29] [--turns 3] [--reference-turns 12]

``bench/turn_timeline.py`` joins the caller's and the fakes' clocks for one call; under load
the fakes' log does not say which call an event belongs to. The server records every
reply's stages itself (``pipeline/observers/latency.py``, the ``latency`` of a call's turns
in ``GET /api/v1/calls/{id}``), timed on the pipeline clock from the end of the caller's
turn (with Flux: the moment the provider's end of turn was pushed). This starts the fakes
and a Switchboard server like ``bench/run.py`` (same pinning, uvloop, no hooks), runs a
1-call reference and then ``--calls`` dense calls, reads the replies' stages back over the
API and prints, per level, the p50 / p95 / max of each stage:

- ``end of turn → first token``: the user aggregator, the agent turn, the fake LLM's first
  token (the fake answers at once);
- ``first token → TTS audio``: the sentence aggregation, the TTS request, the fake's
  response, its first audio chunk resampled;
- ``TTS audio → audio out``: the frame's way through the output transport to the socket;
- ``end of turn → audio out``: the server's whole share (the fakes' own time included).

The table is printed and written to ``bench/results/turn-stages-<turn>-<calls>calls-<time>.txt``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from bench.capacity import run_level
from bench.processes import Server, start_fakes
from bench.run import report_lines
from bench.switchboard_target import start_switchboard, wait_warm

STAGES = (
    ("end of turn → first token", None, "agent_first_token_ms"),
    ("first token → TTS audio", "agent_first_token_ms", "tts_first_audio_ms"),
    ("TTS audio → audio out", "tts_first_audio_ms", "first_audio_out_ms"),
    ("end of turn → audio out", None, "first_audio_out_ms"),
)


def stage_samples(latencies: Iterable[dict[str, Any]]) -> dict[str, list[float]]:
    """Each stage's durations (ms) over the replies whose every stage was recorded."""
    out: dict[str, list[float]] = {name: [] for name, _, _ in STAGES}
    for lat in latencies:
        if any(lat.get(key) is None for _, _, key in STAGES):
            continue
        for name, start, end in STAGES:
            out[name].append(lat[end] - (lat[start] if start else 0.0))
    return out


def stage_table(title: str, samples: dict[str, list[float]]) -> list[str]:
    """``title`` then one line per stage: p50, p95 and max (ms) over its replies."""
    n = len(next(iter(samples.values()), []))
    lines = [f"{title} ({n} replies)", f"  {'stage':<28} {'p50':>7} {'p95':>7} {'max':>7}"]
    for name, values in samples.items():
        if values:
            p50, p95 = np.percentile(values, [50, 95])
            lines.append(f"  {name:<28} {p50:7.1f} {p95:7.1f} {max(values):7.1f}")
    return lines


def reply_latencies(http: httpx.Client, skip: set[str]) -> tuple[list[dict[str, Any]], set[str]]:
    """The latency of every reply of the calls not in ``skip`` (``http``: the server's API
    with the tenant's key), and every call id seen."""
    ids: list[str] = []
    cursor: str | None = None
    while True:
        params = {"limit": "100", **({"cursor": cursor} if cursor else {})}
        page = http.get("/api/v1/calls", params=params).raise_for_status().json()
        ids += [c["id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    latencies = []
    for call_id in ids:
        if call_id not in skip:
            detail = http.get(f"/api/v1/calls/{call_id}").raise_for_status().json()
            latencies += [t["latency"] for t in detail["turns"] if t["latency"]]
    return latencies, set(ids)


def api(server: Server) -> httpx.Client:
    """The server's API as the benchmark's tenant."""
    headers = {"Authorization": f"Bearer {server.extra['api_key']}"}
    return httpx.Client(base_url=server.url, headers=headers, timeout=30)


def measure(turn: str, levels: Sequence[tuple[int, int]], server_core: int,
            client_core: int) -> list[str]:  # fmt: skip
    """Per ``(calls, turns)`` level, the stage table of its replies."""
    with tempfile.TemporaryDirectory(prefix="switchboard-turn-stages-") as tmp:
        workdir = Path(tmp)
        fakes_proc, fakes = start_fakes(client_core, workdir)
        server = start_switchboard(turn, fakes, server_core, workdir)
        lines: list[str] = []
        try:
            wait_warm(server.url)
            run_level(server, 1, 1, client_core, workdir)  # the first call's lazy work
            with api(server) as http:
                time.sleep(2)  # a call's records are written after it ends
                _, seen = reply_latencies(http, set())
                for calls, turns in levels:
                    summary = run_level(server, calls, turns, client_core, workdir)
                    time.sleep(3)
                    latencies, ids = reply_latencies(http, seen)
                    seen |= ids
                    lines += stage_table(_title(turn, calls, turns, summary),
                                         stage_samples(latencies))  # fmt: skip
        finally:
            server.stop()
            fakes_proc.terminate()
    return lines


def _title(turn: str, calls: int, turns: int, summary: dict[str, Any]) -> str:
    v2v = summary["voice_to_voice_ms"]
    return (f"{turn}, {calls} dense calls x {turns} turns: failed calls "
            f"{summary['calls']['failed']}, v2v p50/p95 {v2v['p50']}/{v2v['p95']} ms, core "
            f"{summary['server_cpu']['core_fraction']} busy")  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--turn", choices=["smart-turn", "flux"], default="flux")
    p.add_argument("--calls", type=int, default=29, help="the loaded level's concurrent calls")
    p.add_argument("--turns", type=int, default=3, help="caller turns per call under load")
    p.add_argument("--reference-turns", type=int, default=12, help="turns of the 1-call run")
    p.add_argument("--server-core", type=int, default=0)
    p.add_argument("--client-core", type=int, default=1)
    args = p.parse_args()
    levels = [(1, args.reference_turns), (args.calls, args.turns)]
    lines = measure(args.turn, levels, args.server_core, args.client_core)
    report_lines(f"turn-stages-{args.turn}-{args.calls}calls", lines)


if __name__ == "__main__":
    main()
