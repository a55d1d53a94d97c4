"""Where raw audio stops travelling down a call's pipeline.

pipecat passes every 20 ms of caller audio on through every processor after the ones that
use it (each hop is a queue, a task wake-up and an observer notification), and the output
transport passes every played agent frame on to the end. Nothing after speech recognition
and turn detection needs the caller's audio, and nothing after the output transport needs
the agent's, so these processors end them there, handing each to the call recorder first.
Both run in pipecat's direct mode: no queue and no task of their own.
"""

from __future__ import annotations

from pipecat.frames.frames import Frame, InputAudioRawFrame, OutputAudioRawFrame
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from pipeline.recording import CallRecorder


class CallerAudioEnd(FrameProcessor):
    """Records caller audio (when recording) and does not pass it on."""

    def __init__(self, recorder: CallRecorder | None, **kwargs) -> None:
        super().__init__(enable_direct_mode=True, **kwargs)
        self._recorder = recorder

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        if isinstance(frame, InputAudioRawFrame):
            if self._recorder is not None:
                self._recorder.caller(frame.audio)
            return
        await super().process_frame(frame, direction)
        await self.push_frame(frame, direction)


class AgentAudioEnd(FrameProcessor):
    """Records the agent audio the output transport played and does not pass it on."""

    def __init__(self, recorder: CallRecorder | None, **kwargs) -> None:
        super().__init__(enable_direct_mode=True, **kwargs)
        self._recorder = recorder

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        if isinstance(frame, OutputAudioRawFrame) and direction == FrameDirection.DOWNSTREAM:
            if self._recorder is not None:
                await self._recorder.agent(frame.audio, frame.sample_rate)
            return
        await super().process_frame(frame, direction)
        await self.push_frame(frame, direction)
