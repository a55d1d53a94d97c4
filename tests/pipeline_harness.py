"""What pipeline tests share (unit and realtime tiers): a real pipecat pipeline around the
processors under test, and a recorder at its end."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from pipecat.frames.frames import (
    EndFrame,
    Frame,
    MetricsFrame,
    TTSAudioRawFrame,
)
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.workers.runner import WorkerRunner

LONG_TEXT = " ".join(
    f"This is sentence number {n} of a long announcement that keeps going." for n in range(40)
)


class Recorder(FrameProcessor):
    """End of a test pipeline: records what reaches it, optionally playing audio at a pace.

    With ``play_speed`` set, each audio frame takes its duration / play_speed to "play",
    like an output transport, so an interruption can land in the middle of an utterance.
    """

    def __init__(self, play_speed: float | None = None) -> None:
        super().__init__()
        self.frames: list[Frame] = []
        self.played_seconds = 0.0
        self._play_speed = play_speed
        self._changed = asyncio.Event()

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if direction == FrameDirection.DOWNSTREAM:
            if isinstance(frame, TTSAudioRawFrame):
                seconds = len(frame.audio) / 2 / frame.sample_rate
                if self._play_speed:
                    await asyncio.sleep(seconds / self._play_speed)
                self.played_seconds += seconds
            self.frames.append(frame)
            self._changed.set()
        await self.push_frame(frame, direction)

    def of(self, kind: type[Frame]) -> list[Frame]:
        return [f for f in self.frames if isinstance(f, kind)]

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 20.0) -> None:
        async def poll() -> None:
            while not predicate():
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(poll(), timeout)


async def run_pipeline(
    processors: list[FrameProcessor],
    drive: Callable[[PipelineWorker], Awaitable[None]],
    *,
    in_rate: int = 16000,
    out_rate: int = 16000,
    worker_cls: type[PipelineWorker] = PipelineWorker,
    observers: list | None = None,
) -> None:
    """Run a real pipecat pipeline, call ``drive`` once it started, then end it gracefully."""
    worker = worker_cls(
        Pipeline(processors),
        params=PipelineParams(
            audio_in_sample_rate=in_rate,
            audio_out_sample_rate=out_rate,
            enable_metrics=True,
            enable_usage_metrics=True,
        ),
        cancel_on_idle_timeout=False,
        idle_timeout_secs=None,
        observers=observers,
    )
    started = asyncio.Event()

    @worker.event_handler("on_pipeline_started")
    async def _started(_worker, _frame):
        started.set()

    async def driver() -> None:
        await asyncio.wait_for(started.wait(), 10)
        try:
            await drive(worker)
        finally:
            await worker.queue_frame(EndFrame())

    runner = WorkerRunner(handle_sigint=False)
    await runner.add_workers(worker)
    await asyncio.wait_for(asyncio.gather(runner.run(), driver()), 60)


def metrics_of(recorder: Recorder, kind: type) -> list:
    return [d for f in recorder.of(MetricsFrame) for d in f.data if isinstance(d, kind)]
