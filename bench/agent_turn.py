"""CPU of one agent turn (``WorkflowSession.respond``) against the fake LLM, and what a
shortcut of ``runtime/`` takes off it, measured in one process with the two taking turns.

    python -m bench.agent_turn [--blocks 20] [--turns 50] [--history 0] [--compare identity|chunks]

The fake providers run on ``--client-core``, this process on ``--server-core``. Each block
runs ``--turns`` turns of fresh sessions (a conversation of ``--history`` user messages
before the measured one) and records the process CPU per turn. With ``--compare NAME`` the
blocks alternate between the shortcut off and on (in ABBA order), and the per-block
difference is printed: ``identity`` is ``runtime/agent_identity.py`` (BENCHMARKS.md step
12), ``chunks`` the validated stream chunks of ``runtime/openai_client.py`` (step 13).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path

from bench.processes import start_fakes
from bench.switchboard_target import WORKFLOW

LINE = "I would like a table for two at seven please."


def switch(name: str, on: bool) -> None:
    """Turn one of ``runtime``'s shortcuts on or off in this process."""
    from runtime import agent_identity, openai_client

    if name == "identity":
        agent_identity.use(agent_identity.unique_names_map if on else agent_identity._library)
    elif name == "chunks":
        openai_client.VALIDATED = frozenset({openai_client.ChatCompletionChunk}) if on else frozenset()
    else:
        raise SystemExit(f"--compare: unknown shortcut {name!r} (identity, chunks)")


async def measure(fakes: str, blocks: int, turns: int, history: int, compare: str | None) -> None:
    from runtime.models import ModelConfig
    from runtime.sessions import WorkflowSession, create_session

    config = ModelConfig(provider="openai-compatible", base_url=fakes + "/v1", model="fake", api_key="x")

    async def session() -> WorkflowSession:
        s = create_session(dict(WORKFLOW), variables={}, model=config)
        for _ in range(history):
            [_ async for _ in s.respond(LINE)]
        return s

    for _ in range(20):  # warm-up: lazy imports and caches of the first turns
        [_ async for _ in (await session()).respond(LINE)]
    runs: dict[bool, list[float]] = {False: [], True: []}
    for block in range(blocks):
        order = (True,) if compare is None else ((False, True) if block % 4 in (0, 3) else (True, False))
        for on in order:
            if compare is not None:
                switch(compare, on)
            sessions = [await session() for _ in range(turns)]
            start = time.process_time()
            for s in sessions:
                [_ async for _ in s.respond(LINE)]
            runs[on].append(1000 * (time.process_time() - start) / turns)
    for on, values in runs.items():
        if values:
            label = f"{compare} {'on' if on else 'off'}" if compare else "agent turn"
            spread = f"min {min(values):.2f}, max {max(values):.2f}"
            print(f"{label}: CPU per turn median {statistics.median(values):.2f} ms, {spread} "
                  f"({len(values)} blocks of {turns})")  # fmt: skip
    if compare is not None:
        diff = [off - on for off, on in zip(runs[False], runs[True], strict=True)]
        print(f"off - on per block: median {statistics.median(diff):.2f} ms, "
              f"positive in {sum(d > 0 for d in diff)} of {len(diff)}")  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--blocks", type=int, default=20)
    p.add_argument("--turns", type=int, default=50, help="turns per block")
    p.add_argument("--history", type=int, default=0, help="user turns before the measured one")
    p.add_argument("--compare", choices=["identity", "chunks"], default=None)
    p.add_argument("--server-core", type=int, default=0)
    p.add_argument("--client-core", type=int, default=1)
    args = p.parse_args()
    fakes_proc, fakes = start_fakes(args.client_core, Path(tempfile.mkdtemp(prefix="switchboard-agent-")))
    try:
        os.sched_setaffinity(0, {args.server_core})
        asyncio.run(measure(fakes, args.blocks, args.turns, args.history, args.compare))
    finally:
        fakes_proc.terminate()


if __name__ == "__main__":
    main()
