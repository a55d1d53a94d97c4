"""CPU per audio frame through a real pipecat pipeline as a call runs it, with pipecat's
own push and process steps and with ``pipeline/frame_plumbing.py``'s, taking turns.

    python -m bench.frame_path [--blocks 12] [--frames 4000] [--relays 4] [--core 0]

A carrier call's ``CallWorker`` (no RTVI; the call's observer filter, pipecat's user-bot
latency observer and one observer of pushes, as a call has) runs ``--relays`` processors
that pass every frame on, like the STT, the transports and the aggregators, into one that
takes it. Each block sends ``--frames`` caller audio frames (20 ms, 8 kHz: system
frames, processed by each processor's input task) and as many agent audio frames (40 ms:
data frames, through each processor's second queue), and records this process's CPU per
frame of each kind. The blocks alternate pipecat's steps and the replacements in ABBA
order; the medians and the per-pair differences are printed. BENCHMARKS.md step 17 has the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time

from loguru import logger
from pipecat.frames.frames import EndFrame, Frame, InputAudioRawFrame, TTSAudioRawFrame
from pipecat.observers.base_observer import BaseObserver, FramePushed
from pipecat.observers.user_bot_latency_observer import UserBotLatencyObserver
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.workers.runner import WorkerRunner

from pipeline import frame_plumbing
from pipeline.call_worker import CallWorker


class Relay(FrameProcessor):
    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        await self.push_frame(frame, direction)


class Taker(FrameProcessor):
    """Takes audio frames and counts them; passes everything else on."""

    def __init__(self) -> None:
        super().__init__()
        self.expected = 0
        self.taken = 0
        self.done = asyncio.Event()

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, (InputAudioRawFrame, TTSAudioRawFrame)):
            self.taken += 1
            if self.taken == self.expected:
                self.done.set()
            return
        await self.push_frame(frame, direction)


class Pushes(BaseObserver):
    async def on_push_frame(self, data: FramePushed) -> None:
        return None


async def run(blocks: int, frames: int, relays: int) -> dict[str, dict[str, list[float]]]:
    taker = Taker()
    worker = CallWorker(
        Pipeline([*(Relay() for _ in range(relays)), taker]),
        params=PipelineParams(audio_in_sample_rate=8000, audio_out_sample_rate=8000),
        observers=[UserBotLatencyObserver(), Pushes()],
        cancel_on_idle_timeout=False, idle_timeout_secs=None, enable_rtvi=False,
    )
    started = asyncio.Event()

    @worker.event_handler("on_pipeline_started")
    async def _started(_worker: PipelineWorker, _frame: Frame) -> None:
        started.set()

    kinds = {
        "caller": lambda: InputAudioRawFrame(audio=bytes(320), sample_rate=8000, num_channels=1),
        "agent": lambda: TTSAudioRawFrame(audio=bytes(640), sample_rate=8000, num_channels=1),
    }
    results: dict[str, dict[str, list[float]]] = {
        mode: {kind: [] for kind in kinds} for mode in ("pipecat", "plumbing")
    }

    async def drive() -> None:
        await asyncio.wait_for(started.wait(), 10)
        order = ["pipecat", "plumbing", "plumbing", "pipecat"]
        for block in range(blocks):
            mode = order[block % 4]
            frame_plumbing.install() if mode == "plumbing" else frame_plumbing.uninstall()
            for kind, make in kinds.items():
                batch = [make() for _ in range(frames)]
                taker.expected, taker.taken = frames, 0
                taker.done.clear()
                start = time.process_time()
                await worker.queue_frames(batch)
                await taker.done.wait()
                results[mode][kind].append((time.process_time() - start) / frames * 1e6)
        await worker.queue_frame(EndFrame())

    runner = WorkerRunner(handle_sigint=False)
    await runner.add_workers(worker)
    await asyncio.gather(runner.run(), drive())
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=12)
    parser.add_argument("--frames", type=int, default=4000)
    parser.add_argument("--relays", type=int, default=4)
    parser.add_argument("--core", type=int, default=0)
    args = parser.parse_args()
    os.sched_setaffinity(0, {args.core})
    logger.remove()  # pipecat's logging as the server sets it (server/log_config.py)
    logger.add(sys.stderr, level="WARNING")
    results = asyncio.run(run(args.blocks, args.frames, args.relays))
    for kind in ("caller", "agent"):
        a, b = results["pipecat"][kind], results["plumbing"][kind]
        pairs = [x - y for x, y in zip(a, b, strict=False)]
        print(f"{kind} audio, µs of CPU per frame through {args.relays} relays + 1 taker: "
              f"pipecat median {statistics.median(a):.1f} (range {min(a):.1f}-{max(a):.1f}), "
              f"replacements {statistics.median(b):.1f} (range {min(b):.1f}-{max(b):.1f}), "
              f"saved per pair: median {statistics.median(pairs):.1f} "
              f"(range {min(pairs):.1f}-{max(pairs):.1f})")


if __name__ == "__main__":
    main()
