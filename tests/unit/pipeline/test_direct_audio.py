"""Caller audio is processed by the task that pushes it while the STT's input is idle, and
queued, in order, otherwise (pipeline/providers/direct_audio.py)."""

from __future__ import annotations

import asyncio

from pipecat.frames.frames import Frame, InputAudioRawFrame, SystemFrame
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from pipeline.providers import StoredCredential, resolve_credentials
from pipeline.providers.config import STTChoice
from pipeline.providers.direct_audio import DirectCallerAudioMixin
from pipeline.providers.factory import build_stt
from runtime.egress import EgressPolicy
from tests.pipeline_harness import Recorder, run_pipeline


class _Hold(SystemFrame):
    """A system frame whose processing waits until the test releases it."""


class _Stt(FrameProcessor):
    """A queued processor that records each frame it processes and the task that ran it."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[Frame, asyncio.Task | None]] = []
        self.release = asyncio.Event()
        self.holding = asyncio.Event()

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, InputAudioRawFrame | _Hold):
            self.seen.append((frame, asyncio.current_task()))
        if isinstance(frame, _Hold):
            self.holding.set()
            await self.release.wait()
        await self.push_frame(frame, direction)

    def audio(self) -> list[Frame]:
        return [f for f, _ in self.seen]


class _DirectStt(DirectCallerAudioMixin, _Stt):
    pass


def _input_task_ran(task: asyncio.Task | None) -> bool:
    return task is not None and task.get_name().endswith("::__input_frame_task_handler")


def _frame(n: int) -> InputAudioRawFrame:
    return InputAudioRawFrame(audio=bytes([n]) * 320, sample_rate=8000, num_channels=1)


async def _run(stt: _Stt, drive) -> None:
    end = Recorder()

    async def driver(_worker) -> None:
        await drive(stt, end)

    await run_pipeline([stt, end], driver, in_rate=8000)


async def _processed_before_return(stt: _Stt) -> bool:
    """Queue one caller frame: whether ``stt`` processed it before ``queue_frame`` returned
    (it is passed on either way)."""
    frame = _frame(1)
    seen: list[bool] = []

    async def drive(stt: _Stt, end: Recorder) -> None:
        await stt.queue_frame(frame)
        seen.append(stt.audio() == [frame])
        await end.wait_for(lambda: frame in end.frames)

    await _run(stt, drive)
    return seen == [True]


async def test_idle_input_processes_caller_audio_in_the_pushing_task():
    stt = _DirectStt()
    assert await _processed_before_return(stt)
    assert not _input_task_ran(stt.seen[0][1])


async def test_plain_pipecat_processor_queues_caller_audio_for_its_input_task():
    """The control: what the mixin saves is real (pipecat queues every frame)."""
    stt = _Stt()
    assert not await _processed_before_return(stt)
    assert _input_task_ran(stt.seen[0][1])


async def test_audio_waits_behind_a_frame_being_processed_and_the_order_never_changes():
    stt = _DirectStt()
    hold, frames = _Hold(), [_frame(n) for n in range(4)]
    early: list[list[Frame]] = []

    async def drive(stt: _Stt, end: Recorder) -> None:
        await stt.queue_frame(hold)  # queued (not audio); the input task holds it
        await asyncio.wait_for(stt.holding.wait(), 5)
        for frame in frames[:3]:
            await stt.queue_frame(frame)
        early.append(stt.audio())
        stt.release.set()
        await end.wait_for(lambda: frames[2] in end.frames)
        await stt.queue_frame(frames[3])  # idle again: processed at once
        early.append(stt.audio())

    await _run(stt, drive)
    assert early[0] == [hold]
    assert early[1] == [hold, *frames]


async def test_audio_is_queued_while_system_frames_are_paused():
    stt = _DirectStt()
    frame = _frame(1)
    early: list[list[Frame]] = []

    async def drive(stt: _Stt, end: Recorder) -> None:
        await stt.pause_processing_system_frames()
        await stt.queue_frame(frame)
        early.append(stt.audio())
        await stt.resume_processing_system_frames()
        await end.wait_for(lambda: frame in end.frames)

    await _run(stt, drive)
    assert early == [[]]
    assert stt.audio() == [frame]


async def test_a_frame_with_a_callback_goes_through_the_queue():
    stt = _DirectStt()
    frame = _frame(1)
    called: list[Frame] = []
    early: list[list[Frame]] = []

    async def callback(_processor, f: Frame, _direction) -> None:
        called.append(f)

    async def drive(stt: _Stt, end: Recorder) -> None:
        await stt.queue_frame(frame, callback=callback)
        early.append(stt.audio())
        await end.wait_for(lambda: frame in end.frames)

    await _run(stt, drive)
    assert early == [[]]
    assert called == [frame]


async def test_an_error_in_direct_processing_is_reported_as_pipecat_reports_it():
    class _Failing(_DirectStt):
        async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
            if isinstance(frame, InputAudioRawFrame):
                raise RuntimeError("send failed")
            await super().process_frame(frame, direction)

    stt = _Failing()
    errors: list[str] = []

    @stt.event_handler("on_error")
    async def _on_error(_processor, error) -> None:
        errors.append(error.error)

    async def drive(stt: _Stt, end: Recorder) -> None:
        await stt.queue_frame(_frame(1))  # raises inside: reported, not raised to the reader

    await _run(stt, drive)
    assert errors and "send failed" in errors[0]


def test_the_deepgram_services_take_caller_audio_directly_under_their_own_name():
    credentials = resolve_credentials(
        {"deepgram": StoredCredential(api_key="k", base_url="http://127.0.0.1:9")},
        egress=EgressPolicy(allow_private=True),
    )
    for provider, name in (("deepgram", "DeepgramSTTService"), ("deepgram-flux", "DeepgramFluxSTTService")):
        service = build_stt(STTChoice(provider=provider), credentials, sample_rate=8000)
        assert isinstance(service, DirectCallerAudioMixin)
        assert type(service).__name__ == name


async def test_without_the_private_state_it_reads_every_frame_is_queued():
    """Should a pipecat upgrade rename what ``_input_idle`` reads, calls keep working."""
    stt = _DirectStt()
    frame = _frame(1)
    early: list[list[Frame]] = []

    async def drive(stt: _Stt, end: Recorder) -> None:
        # what an upgrade that renamed the flag would look like to _input_idle
        del stt._FrameProcessor__should_block_system_frames
        await stt.queue_frame(frame)
        early.append(stt.audio())
        stt._FrameProcessor__should_block_system_frames = False
        await end.wait_for(lambda: frame in end.frames)

    await _run(stt, drive)
    assert early == [[]]
    assert _input_task_ran(stt.seen[0][1])
