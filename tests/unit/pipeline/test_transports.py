"""Caller audio is pushed by the task that receives it, in order, once the input's audio task
runs with nothing queued (pipeline/transports.py)."""

from __future__ import annotations

from unittest.mock import MagicMock

from pipecat.frames.frames import Frame, InputAudioRawFrame, StartFrame
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.transports.base_input import BaseInputTransport
from pipecat.transports.base_transport import TransportParams
from pipecat.transports.websocket.fastapi import FastAPIWebsocketParams

from pipeline.transports import (
    BrowserWebRTCTransport,
    CarrierWebsocketTransport,
    DirectAudioInput,
    DirectAudioWebRTCInput,
    DirectAudioWebsocketInput,
)
from tests.pipeline_harness import Recorder, run_pipeline


class _PlainInput(BaseInputTransport):
    """A transport input as pipecat's own transports start theirs."""

    async def start(self, frame: StartFrame) -> None:
        await super().start(frame)
        await self.set_transport_ready(frame)


class _DirectInput(DirectAudioInput, _PlainInput):
    pass


class _Audio(FrameProcessor):
    """Records caller audio as soon as it is pushed to it (no queue of its own)."""

    def __init__(self) -> None:
        super().__init__(enable_direct_mode=True)
        self.audio: list[InputAudioRawFrame] = []

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, InputAudioRawFrame):
            self.audio.append(frame)
        await self.push_frame(frame, direction)


def _frame(n: int) -> InputAudioRawFrame:
    return InputAudioRawFrame(audio=bytes([n]) * 320, sample_rate=8000, num_channels=1)


async def _run(input_cls: type[BaseInputTransport], drive) -> _Audio:
    inp = input_cls(TransportParams(audio_in_enabled=True, audio_in_sample_rate=8000))
    audio, end = _Audio(), Recorder()

    async def driver(_worker) -> None:
        await drive(inp, audio, end)

    await run_pipeline([inp, audio, end], driver, in_rate=8000)
    return audio


async def test_caller_audio_reaches_the_pipeline_before_push_audio_frame_returns():
    seen: list[bool] = []

    async def drive(inp: BaseInputTransport, audio: _Audio, end: Recorder) -> None:
        frame = _frame(1)
        await inp.push_audio_frame(frame)
        seen.append(frame in audio.audio)  # no task switch in between

    await _run(_DirectInput, drive)
    assert seen == [True]


async def test_plain_pipecat_input_hands_caller_audio_to_its_audio_task():
    """The control: what DirectAudioInput saves is real (pipecat queues every frame)."""
    seen: list[bool] = []

    async def drive(inp: BaseInputTransport, audio: _Audio, end: Recorder) -> None:
        frame = _frame(1)
        await inp.push_audio_frame(frame)
        seen.append(frame in audio.audio)
        await end.wait_for(lambda: frame in end.frames)

    await _run(_PlainInput, drive)
    assert seen == [False]


async def test_frames_still_queued_go_first_and_the_order_never_changes():
    frames = [_frame(n) for n in range(6)]

    async def drive(inp: BaseInputTransport, audio: _Audio, end: Recorder) -> None:
        # Two frames wait on the queue (as after call start-up) when the next ones arrive.
        await BaseInputTransport.push_audio_frame(inp, frames[0])
        await BaseInputTransport.push_audio_frame(inp, frames[1])
        for frame in frames[2:]:
            await inp.push_audio_frame(frame)
        await end.wait_for(lambda: frames[-1] in end.frames)

    audio = await _run(_DirectInput, drive)
    assert audio.audio == frames


async def test_nothing_is_pushed_when_passthrough_is_off():
    async def drive(inp: BaseInputTransport, audio: _Audio, end: Recorder) -> None:
        inp._params.audio_in_passthrough = False
        await inp.push_audio_frame(_frame(1))

    audio = await _run(_DirectInput, drive)
    assert audio.audio == []


def test_the_call_transports_build_direct_inputs():
    websocket = MagicMock()
    carrier = CarrierWebsocketTransport(websocket, FastAPIWebsocketParams(audio_in_enabled=True))
    assert type(carrier.input()) is DirectAudioWebsocketInput
    browser = BrowserWebRTCTransport(MagicMock(), TransportParams(audio_in_enabled=True))
    assert type(browser.input()) is DirectAudioWebRTCInput
