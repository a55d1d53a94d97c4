"""The call transports, with caller audio pushed by the task that receives it.

pipecat's ``BaseInputTransport.push_audio_frame`` puts every received 20 ms frame on a
queue, and the transport's own audio task takes it off again and pushes it down the
pipeline. With no input audio filter (none is configured here) and voice activity detection
in the user aggregator (pipecat 1.x), that task only moves the frame on: each caller frame
costs a queue put and get, a task wake-up and a ``wait_for`` round, 50 times a second per
call. ``DirectAudioInput`` pushes the frame from the task that received it (the media
websocket's or the WebRTC track's reader) whenever the audio task is running with nothing
queued. Frames that arrive before it runs (call start-up) or while it still holds some go
through the queue as before, so the order never changes; pausing, stopping and cancelling
keep pipecat's behaviour (no audio task: the frame waits on the queue as it would).
"""

from __future__ import annotations

from typing import Any

from pipecat.frames.frames import InputAudioRawFrame
from pipecat.transports.base_input import BaseInputTransport
from pipecat.transports.smallwebrtc.transport import SmallWebRTCInputTransport, SmallWebRTCTransport
from pipecat.transports.websocket.fastapi import (
    FastAPIWebsocketInputTransport,
    FastAPIWebsocketTransport,
)


class DirectAudioInput(BaseInputTransport):
    """An input transport mix-in: caller audio skips the audio queue once it is drained."""

    async def push_audio_frame(self, frame: InputAudioRawFrame) -> None:
        params = self._params
        if self._audio_task is None or params.audio_in_filter is not None or not self._audio_in_queue.empty():
            await super().push_audio_frame(frame)
            return
        # What the audio task does with a frame when no filter is set.
        if params.audio_in_enabled and not self._paused and frame.audio and params.audio_in_passthrough:
            await self.push_frame(frame)


class DirectAudioWebsocketInput(DirectAudioInput, FastAPIWebsocketInputTransport):
    """A carrier media websocket's input."""


class DirectAudioWebRTCInput(DirectAudioInput, SmallWebRTCInputTransport):
    """A browser peer's input."""


class CarrierWebsocketTransport(FastAPIWebsocketTransport):
    """``FastAPIWebsocketTransport`` whose input is a ``DirectAudioWebsocketInput``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # pipecat builds its input in __init__; replace it before anything is wired to it
        self._input = DirectAudioWebsocketInput(self, self._client, self._params, name=self._input_name)


class BrowserWebRTCTransport(SmallWebRTCTransport):
    """``SmallWebRTCTransport`` whose input is a ``DirectAudioWebRTCInput``."""

    def input(self) -> SmallWebRTCInputTransport:
        if not self._input:
            self._input = DirectAudioWebRTCInput(self._client, self._params, name=self._input_name)
        return self._input
