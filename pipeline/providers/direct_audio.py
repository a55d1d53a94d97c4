"""Caller audio handed to the speech-to-text service by the task that receives it.

Every 20 ms caller frame reaches the STT service through pipecat's ``queue_frame``: a put on
the processor's input queue (a priority queue: a heap push), a wake-up of its input task, a
heap pop, and a loop turn before the frame is sent to the provider, 50 times a second per
call. For a websocket STT the work itself is one send, so the hop is a large part of it.
``DirectCallerAudioMixin`` processes a caller audio frame in the pushing task (the media
websocket's or the WebRTC track's reader, ``pipeline/transports.py``) whenever the
service's input is idle: its input task running, nothing queued and nothing being
processed, system frames not paused, no direct frame still under way. Otherwise the frame
is queued as pipecat queues it, so frames are never processed out of order; each is
processed by pipecat's own ``__process_frame`` step (errors reported the same way).

Only for services whose audio step is a send that returns at once (the Deepgram websocket
services): the reader waits for it. One that suspends (a full socket buffer) has already
written its bytes, so a frame queued meanwhile still reaches the provider after it.
"""

from __future__ import annotations

import functools
from typing import Any

from pipecat.frames.frames import Frame, InputAudioRawFrame
from pipecat.processors.frame_processor import FrameCallback, FrameDirection, FrameProcessor


class DirectCallerAudioMixin(FrameProcessor):
    """Caller audio processed by the pushing task when this processor's input is idle."""

    _direct_busy = False

    def _input_idle(self) -> bool:
        # pipecat's private state, read with defaults that mean "busy": should a pipecat
        # upgrade rename it, every frame is queued as pipecat queues it (and
        # tests/unit/pipeline/test_direct_audio.py fails until this is looked at again).
        queue = getattr(self, "_FrameProcessor__input_queue", None)
        return (
            getattr(self, "_FrameProcessor__input_frame_task", None) is not None
            # put() counts a frame in and the input task counts it out once processed
            and getattr(queue, "_unfinished_tasks", 1) == 0
            and getattr(self, "_FrameProcessor__should_block_system_frames", True) is False
        )

    async def queue_frame(
        self,
        frame: Frame,
        direction: FrameDirection = FrameDirection.DOWNSTREAM,
        callback: FrameCallback | None = None,
    ) -> None:
        if (
            isinstance(frame, InputAudioRawFrame)
            and callback is None
            and not self._direct_busy
            and not self._cancelling
            and self._input_idle()
        ):
            self._direct_busy = True
            try:
                await self._FrameProcessor__process_frame(frame, direction, None)  # type: ignore[attr-defined]
            finally:
                self._direct_busy = False
            return
        await super().queue_frame(frame, direction, callback)


@functools.cache
def direct_caller_audio(cls: type[Any]) -> type[Any]:
    """``cls`` with ``DirectCallerAudioMixin``; same name (usage is attributed to a provider
    by its service's class name: ``pipeline/observers/usage.py``)."""
    return type(cls.__name__, (DirectCallerAudioMixin, cls), {"__qualname__": cls.__qualname__})
