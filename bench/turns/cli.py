"""``switchboard eval turns``: run the turn-taking evaluation, print and save the figures."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

DEFAULT_OUTPUT = Path(__file__).resolve().parents[1] / "results" / "turns.json"


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("eval", help="evaluate conversation quality")
    parser.add_argument("what", choices=["turns"], help="turns: turn-taking and barge-in")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    import sys

    from loguru import logger

    from bench.turns.dataset import samples
    from bench.turns.simulate import evaluate

    logger.remove()  # pipecat logs every VAD it creates at DEBUG: thousands of lines
    logger.add(sys.stderr, level="WARNING")

    results = evaluate(samples())
    results["machine"] = {"cpus": os.cpu_count(), "load_avg_1m": round(os.getloadavg()[0], 2)}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    print(render(results))
    return 0


def render(results: dict) -> str:
    lines = [
        "Turn end (complete answers: late = answered > 1.5 s after the last word; "
        "incomplete: false end = answered in the pause)",
        f"{'strategy':48} {'late %':>7} {'p95 wait':>9} {'false end %':>12}",
    ]
    for name, r in results["turn_end"].items():
        lines.append(f"{name:48} {r['late_pct']:>7} {r['p95_wait_ms']:>7}ms {r['false_end_pct']:>12}")
    lines += [
        "",
        "Barge-in (interruptions and back-channels spoken while the bot talks)",
        f"{'strategy':48} {'reaction p95':>13} {'false interruptions %':>22}",
    ]
    for name, r in results["barge_in"].items():
        lines.append(f"{name:48} {r['reaction_p95_ms']:>11}ms {r['false_interruption_pct']:>22}")
    bound = results["first_real_word_said_ms"]
    lines.append(
        f"(the first real word of an interruption is said in full after {bound['p95']} ms at p95: "
        "no words-based strategy can react sooner)"
    )
    inference = results["smart_turn_inference_ms"]
    lines.append(
        f"\nSmart Turn inference (wall clock, load-dependent): median "
        f"{inference['median']} ms, p95 {inference['p95']} ms"
    )
    return "\n".join(lines)
