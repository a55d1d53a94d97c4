"""pipecat's push and process steps, as a call runs them (``pipeline/frame_plumbing.py``):
the same frames, hooks, observers and errors, without per-frame work nobody reads."""

from __future__ import annotations

from pipecat.frames.frames import ErrorFrame, Frame, InputAudioRawFrame, TextFrame
from pipecat.observers.base_observer import BaseObserver, FrameProcessed, FramePushed
from pipecat.pipeline.worker import PipelineWorker
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from pipeline import frame_plumbing
from pipeline.call_worker import CallWorker, CallWorkerObserver
from tests.pipeline_harness import Recorder, run_pipeline

frame_plumbing.install()


def test_installed_over_the_pipecat_source_it_was_written_for():
    """Fails after a pipecat upgrade changes a replaced function: check the copies in
    pipeline/frame_plumbing.py against the new source, then update REPLACEMENTS."""
    assert frame_plumbing.pipecat_source_changed() == []
    assert FrameProcessor.push_frame is frame_plumbing.push_frame
    assert FrameProcessor.process_frame is frame_plumbing.process_frame


def test_a_changed_pipecat_function_is_named(monkeypatch):
    """What keeps the copies off a pipecat they were not written for: ``install`` checks
    this list and leaves pipecat's functions in place when it is not empty."""
    _, replacement = frame_plumbing.REPLACEMENTS["push_frame"]
    monkeypatch.setitem(frame_plumbing.REPLACEMENTS, "push_frame", ("0" * 64, replacement))
    assert frame_plumbing.pipecat_source_changed() == ["push_frame"]


class _CountedText(TextFrame):
    """A frame that counts how often it is turned into a string (a trace line builds one)."""

    strings = 0

    def __str__(self) -> str:
        type(self).strings += 1
        return super().__str__()


async def test_a_push_builds_no_trace_line():
    end = Recorder()
    frame = _CountedText("hello")

    async def drive(worker: PipelineWorker) -> None:
        await worker.queue_frames([frame])
        await end.wait_for(lambda: frame in end.frames)

    _CountedText.strings = 0
    await run_pipeline([Recorder(), Recorder(), end], drive, worker_cls=CallWorker)
    assert frame in end.frames
    assert _CountedText.strings == 0


class _AudioCounting(CallWorkerObserver):
    audio_records = 0

    async def on_push_frame(self, data: FramePushed) -> None:
        if isinstance(data.frame, InputAudioRawFrame):
            type(self).audio_records += 1
        await super().on_push_frame(data)


class _CountingWorker(CallWorker):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._observer = _AudioCounting(observers=list(self._observer._observers))


class _Observed(BaseObserver):
    """Records the frames pushed and the frames processed that reach it."""

    def __init__(self) -> None:
        super().__init__()
        self.pushed: list[Frame] = []
        self.processed: list[Frame] = []

    async def on_push_frame(self, data: FramePushed) -> None:
        self.pushed.append(data.frame)

    async def on_process_frame(self, data: FrameProcessed) -> None:
        self.processed.append(data.frame)


async def test_no_push_record_is_built_for_caller_audio_no_observer_reads():
    end, observed = Recorder(), _Observed()
    audio = InputAudioRawFrame(audio=bytes(640), sample_rate=16000, num_channels=1)
    text = TextFrame("after the audio")

    async def drive(worker: PipelineWorker) -> None:
        await worker.queue_frames([audio, text])
        await end.wait_for(lambda: text in end.frames)

    _AudioCounting.audio_records = 0
    await run_pipeline([Recorder(), end], drive, worker_cls=_CountingWorker, observers=[observed])
    assert audio in end.frames  # the audio itself still flows
    assert _AudioCounting.audio_records == 0
    assert text in observed.pushed  # and other pushes still reach the observers


async def test_processed_frames_reach_an_observer_that_implements_it():
    end, observed = Recorder(), _Observed()
    text = TextFrame("processed")

    async def drive(worker: PipelineWorker) -> None:
        await worker.queue_frames([text])
        await end.wait_for(lambda: text in end.frames)

    await run_pipeline([Recorder(), end], drive, worker_cls=CallWorker, observers=[observed])
    assert text in observed.processed


async def test_registered_push_and_process_hooks_still_run():
    middle, end = Recorder(), Recorder()
    seen: dict[str, list[Frame]] = {name: [] for name in (
        "on_before_push_frame", "on_after_push_frame",
        "on_before_process_frame", "on_after_process_frame")}
    for name, frames in seen.items():
        def record(_processor: FrameProcessor, frame: Frame, frames: list[Frame] = frames) -> None:
            frames.append(frame)
        middle.add_event_handler(name, record)
    text = TextFrame("hooked")

    async def drive(worker: PipelineWorker) -> None:
        await worker.queue_frames([text])
        await end.wait_for(lambda: text in end.frames)

    await run_pipeline([middle, end], drive, worker_cls=CallWorker)
    assert all(text in frames for frames in seen.values()), seen


class _Raises(FrameProcessor):
    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, TextFrame):
            raise ValueError("bad frame")
        await self.push_frame(frame, direction)


class _Upstream(FrameProcessor):
    def __init__(self) -> None:
        super().__init__()
        self.errors: list[ErrorFrame] = []

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, ErrorFrame):
            self.errors.append(frame)
        await self.push_frame(frame, direction)


async def test_an_exception_while_processing_is_pushed_upstream_as_pipecat_does():
    upstream, end = _Upstream(), Recorder()

    async def drive(worker: PipelineWorker) -> None:
        await worker.queue_frames([TextFrame("boom")])
        await end.wait_for(lambda: bool(upstream.errors))

    await run_pipeline([upstream, _Raises(), end], drive, worker_cls=CallWorker)
    assert "Error processing frame: bad frame" in upstream.errors[0].error
