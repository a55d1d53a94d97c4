"""A call's observers see speech, text and control frames, but are not fed raw caller audio."""

from __future__ import annotations

from pipecat.frames.frames import InputAudioRawFrame, TextFrame, TTSAudioRawFrame
from pipecat.observers.base_observer import BaseObserver, FrameProcessed, FramePushed
from pipecat.observers.turn_tracking_observer import TurnTrackingObserver
from pipecat.pipeline.worker import PipelineWorker

from pipeline.call_worker import CallWorker
from tests.pipeline_harness import Recorder, run_pipeline


class _Pushes(BaseObserver):
    def __init__(self) -> None:
        super().__init__()
        self.frames: list = []

    async def on_push_frame(self, data: FramePushed) -> None:
        self.frames.append(data.frame)


class _Processed(_Pushes):
    async def on_process_frame(self, data: FrameProcessed) -> None:
        self.frames.append(("processed", data.frame))


async def _run(worker_cls: type[PipelineWorker]) -> tuple[_Pushes, _Processed]:
    pushes, processed = _Pushes(), _Processed()
    end = Recorder()
    text = TextFrame("hello")
    tts = TTSAudioRawFrame(audio=bytes(640), sample_rate=16000, num_channels=1)

    async def drive(worker: PipelineWorker) -> None:
        audio = InputAudioRawFrame(audio=bytes(640), sample_rate=16000, num_channels=1)
        await worker.queue_frames([audio, tts, text])
        await end.wait_for(lambda: text in end.frames)

    await run_pipeline(
        [Recorder(), end], drive, worker_cls=worker_cls, observers=[pushes, processed]
    )
    return pushes, processed


async def test_observers_get_no_caller_audio_but_everything_else():
    pushes, processed = await _run(CallWorker)
    kinds = {type(f) for f in pushes.frames}
    assert TextFrame in kinds and TTSAudioRawFrame in kinds  # first TTS audio marks latency
    assert InputAudioRawFrame not in kinds
    # on_process_frame reaches the observer that implements it, for the frames it gets
    processed_frames = [f[1] for f in processed.frames if isinstance(f, tuple)]
    assert any(isinstance(f, TextFrame) for f in processed_frames)
    assert all(not isinstance(f, tuple) for f in pushes.frames)


async def test_plain_pipecat_worker_feeds_observers_caller_audio():
    """The control: what CallWorker saves is real (pipecat queues caller audio to each)."""
    pushes, _ = await _run(PipelineWorker)
    assert InputAudioRawFrame in {type(f) for f in pushes.frames}


class _TurnTracking(TurnTrackingObserver):
    """pipecat's turn tracking observer (tracing), recording what it is handed."""

    def __init__(self) -> None:
        super().__init__()
        self.frames: list = []

    async def on_push_frame(self, data: FramePushed) -> None:
        self.frames.append(data.frame)
        await super().on_push_frame(data)


async def test_tracing_observers_are_not_handed_agent_audio():
    """With tracing on, pipecat's turn observers cost per turn, not per agent audio frame."""
    tracking, pushes = _TurnTracking(), _Pushes()
    end = Recorder()
    text = TextFrame("hello")
    tts = TTSAudioRawFrame(audio=bytes(640), sample_rate=16000, num_channels=1)

    async def drive(worker: PipelineWorker) -> None:
        await worker.queue_frames([tts, text])
        await end.wait_for(lambda: text in end.frames)

    await run_pipeline([Recorder(), end], drive, worker_cls=CallWorker,
                       observers=[tracking, pushes])  # fmt: skip
    assert TTSAudioRawFrame in {type(f) for f in pushes.frames}  # others still get it
    assert TextFrame in {type(f) for f in tracking.frames}
    assert TTSAudioRawFrame not in {type(f) for f in tracking.frames}
