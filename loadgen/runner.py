"""Run many scripted calls: a concurrency target, a ramp rate and a live progress line."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO

import httpx

from loadgen.report import percentile
from loadgen.script import CallResult, CallScript
from loadgen.speech import pcm_utterance, utterance
from loadgen.targets import TwilioTarget, WebRTCTarget
from loadgen.twilio_caller import TwilioLoadCaller
from loadgen.webrtc_caller import WebRTCLoadCaller


@dataclass(frozen=True)
class LoadPlan:
    concurrency: int = 1
    #: Calls placed in total (default: ``concurrency``); more means sequential waves.
    total_calls: int | None = None
    #: New calls started per second while ramping up.
    ramp_per_second: float = 10.0


class Progress:
    """Counts and a one-line status, redrawn in place on a terminal."""

    def __init__(self, stream: TextIO | None) -> None:
        self.stream = stream
        self.live = 0
        self.results: list[CallResult] = []
        self.t0 = time.monotonic()

    def line(self) -> str:
        done = len(self.results)
        failed = sum(1 for r in self.results if not r.ok)
        v2v = [v for r in self.results for v in r.timeline.voice_to_voice()]
        late = [x for r in self.results for x in r.timeline.lateness]
        p95 = percentile(v2v, 95)
        p99 = percentile(late, 99)
        return (
            f"[{time.monotonic() - self.t0:6.1f}s] live {self.live:4d} done {done:5d} "
            f"failed {failed:3d} | v2v p95 {'-' if p95 is None else f'{p95 * 1000:.0f}ms'} "
            f"| lateness p99 {'-' if p99 is None else f'{p99 * 1000:.0f}ms'}"
        )

    def draw(self, final: bool = False) -> None:
        if self.stream is None:
            return
        if self.stream.isatty():
            self.stream.write("\r" + self.line() + ("\n" if final else ""))
        else:
            self.stream.write(self.line() + "\n")
        self.stream.flush()


async def run_load(
    target: TwilioTarget | WebRTCTarget,
    script: CallScript,
    plan: LoadPlan,
    *,
    progress_stream: TextIO | None = sys.stderr,
    progress_every: float = 1.0,
    on_result: Callable[[CallResult], None] | None = None,
) -> list[CallResult]:
    """Place ``plan.total_calls`` calls keeping ``plan.concurrency`` live; return all results.

    The channel follows the target: a :class:`TwilioTarget` places Twilio media-stream calls,
    a :class:`WebRTCTarget` places aiortc browser calls."""
    total = plan.total_calls or plan.concurrency
    webrtc = isinstance(target, WebRTCTarget)
    caller_cls = WebRTCLoadCaller if webrtc else TwilioLoadCaller
    for line in script.lines[: max(1, script.turns)]:
        # synthesise once, before any call is on the clock
        if webrtc:
            pcm_utterance(line)
        else:
            utterance(line)
    progress = Progress(progress_stream)
    sem = asyncio.Semaphore(plan.concurrency)
    limits = httpx.Limits(max_connections=plan.concurrency * 2, max_keepalive_connections=0)
    async with httpx.AsyncClient(timeout=30.0, limits=limits) as http:

        async def one(index: int) -> None:
            async with sem:
                progress.live += 1
                try:
                    result = await caller_cls(index, target, script, http).run()  # type: ignore[arg-type]
                finally:
                    progress.live -= 1
                progress.results.append(result)
                if on_result is not None:
                    on_result(result)

        async def ticker() -> None:
            while True:
                await asyncio.sleep(progress_every)
                progress.draw()

        tick = asyncio.create_task(ticker())
        tasks = []
        interval = 1.0 / plan.ramp_per_second if plan.ramp_per_second > 0 else 0.0
        try:
            for i in range(total):
                if i and interval and i < plan.concurrency:
                    await asyncio.sleep(interval)
                # calls beyond the concurrency target queue on the semaphore
                tasks.append(asyncio.create_task(one(i)))
            await asyncio.gather(*tasks)
        finally:
            tick.cancel()
            progress.draw(final=True)
    return sorted(progress.results, key=lambda r: r.index)
