"""CPU of one streamed OpenAI speech request: the OpenAI SDK (httpx) against the aiohttp
client the TTS uses, both through the egress policy, measured in one process taking turns.

    python -m bench.speech_request [--blocks 20] [--requests 50]

The fake providers run on ``--client-core``, this process (uvloop, as the server) on
``--server-core``. Each request posts one sentence to the fake's ``/v1/audio/speech`` and
reads the whole streamed 24 kHz PCM answer (~1.8 s of speech, 85 KB). The reads count too:
the fake sends a sentence at once in 100 ms chunks of the chunked encoding, which httpx
hands on one by one (34 reads) and aiohttp as the socket holds them (3-5 reads); from a
provider that streams at about real time both get each chunk as it comes. Blocks alternate
between the two clients in ABBA order; the thread CPU per request is printed for each, and
the per-block difference (BENCHMARKS.md step 21).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import uvloop

from bench.processes import start_fakes

TEXT = "Sure, I can help with that. What time would you like?"
BODY = {"input": TEXT, "model": "gpt-4o-mini-tts", "voice": "alloy", "response_format": "pcm"}

Request = Callable[[], Awaitable[int]]


@asynccontextmanager
async def clients(fakes: str) -> AsyncIterator[dict[str, Request]]:
    """One request function per client; each returns the bytes it read."""
    from openai import AsyncOpenAI

    from runtime.egress import EgressPolicy
    from runtime.egress_aiohttp import AiohttpEgress

    policy = EgressPolicy(allow_private=True)  # the fakes are on loopback
    sdk = AsyncOpenAI(api_key="k", base_url=fakes + "/v1", max_retries=1,
                      http_client=policy.openai_http_client())
    aio = AiohttpEgress(policy)

    async def via_sdk() -> int:
        async with sdk.audio.speech.with_streaming_response.create(**BODY) as response:  # type: ignore[arg-type]
            return sum([len(chunk) async for chunk in response.iter_bytes()])

    async def via_aiohttp() -> int:
        async with aio.post(fakes + "/v1/audio/speech", json=BODY,
                            headers={"Authorization": "Bearer k"}) as response:
            return sum([len(chunk) async for chunk in response.content.iter_any()])

    try:
        yield {"openai SDK (httpx)": via_sdk, "aiohttp": via_aiohttp}
    finally:
        await sdk.close()
        await aio.aclose()


async def measure(fakes: str, blocks: int, requests: int) -> None:
    async with clients(fakes) as runs:
        cpu = await _blocks(runs, blocks, requests)
    names = list(cpu)
    for name in names:
        values = cpu[name]
        print(f"{name}: CPU per request median {statistics.median(values):.2f} ms, "
              f"min {min(values):.2f}, max {max(values):.2f} ({blocks} blocks of {requests})")
    diffs = [b - a for a, b in zip(cpu[names[0]], cpu[names[1]], strict=True)]
    print(f"{names[1]} - {names[0]} per block: median {statistics.median(diffs):+.2f} ms, "
          f"lower in {sum(d < 0 for d in diffs)} of {blocks}")


async def _blocks(runs: dict[str, Request], blocks: int, requests: int) -> dict[str, list[float]]:
    """Thread CPU per request (ms) of each client, block by block in ABBA order."""
    names = list(runs)
    for request in runs.values():  # warm-up: connections, lazy imports
        for _ in range(20):
            assert await request() > 0
    cpu: dict[str, list[float]] = {name: [] for name in names}
    for block in range(blocks):
        order = names if block % 4 in (0, 3) else names[::-1]
        for name in order:
            start = time.thread_time()
            for _ in range(requests):
                await runs[name]()
            cpu[name].append((time.thread_time() - start) * 1000 / requests)
    return cpu


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--blocks", type=int, default=20)
    p.add_argument("--requests", type=int, default=50, help="requests per block")
    p.add_argument("--server-core", type=int, default=0)
    p.add_argument("--client-core", type=int, default=1)
    args = p.parse_args()
    fakes_proc, fakes = start_fakes(args.client_core, Path(tempfile.mkdtemp(prefix="switchboard-speech-")))
    try:
        os.sched_setaffinity(0, {args.server_core})
        uvloop.run(measure(fakes, args.blocks, args.requests))
    finally:
        fakes_proc.terminate()


if __name__ == "__main__":
    main()
