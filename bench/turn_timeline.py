"""Where a turn's voice-to-voice time goes: one call, its turns broken down by stage.

    python -m bench.turn_timeline --url http://127.0.0.1:8000 --fakes http://127.0.0.1:9100 \
        [loadtest options such as --to/--auth-token/--webhook-path]

Joins the load generator's timeline (caller speech end, first bot audio) with the fake
providers' request log (STT finalize / end of turn, LLM request, TTS request): the
processes share the machine's monotonic clock.
"""

from __future__ import annotations

import argparse
import asyncio

import httpx

from loadgen.cli import add_parser, config_from_args
from loadgen.runner import LoadPlan, run_load


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command")
    lt = add_parser(sub)
    lt.add_argument("--fakes", default="http://127.0.0.1:9100")
    args = parser.parse_args(["loadtest", *__import__("sys").argv[1:]])
    target, script, _ = config_from_args(args)
    async with httpx.AsyncClient() as http:
        await http.get(args.fakes + "/events")  # clear
        [result] = await run_load(target, script, LoadPlan(1), progress_stream=None)
        events = (await http.get(args.fakes + "/events")).json()
    print("errors:", result.errors)
    for k, turn in enumerate(result.timeline.turns):
        end = turn.speech_end_at
        nxt = (
            result.timeline.turns[k + 1].speech_end_at if k + 1 < len(result.timeline.turns) else float("inf")
        )
        row = [f"turn {k + 1}: v2v {1000 * (turn.voice_to_voice or 0):.0f} ms"]
        seen: set[str] = set()
        for t, kind in events:
            if end <= t < nxt and kind not in seen:
                seen.add(kind)
                row.append(f"{kind} +{1000 * (t - end):.0f}")
        print("  ".join(row))


if __name__ == "__main__":
    asyncio.run(main())
