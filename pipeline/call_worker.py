"""The pipecat worker of one call, with observers that are not fed raw audio.

pipecat's ``WorkerObserver`` hands every frame a processor processes, and the first push of
every frame, to each observer through that observer's own queue and task. A call's
observers (ours, pipecat's user-bot latency and idle observers, RTVI on WebRTC) look at
speech, text and control frames, never at the caller's raw audio, and none of them
implements ``on_process_frame``. Queueing every 20 ms audio frame to each of them was the
largest remaining per-frame cost of a call (bench profile: ~8 queue hand-offs per caller
frame). ``CallWorkerObserver`` forwards processed frames only to observers that override
``on_process_frame`` and drops caller-audio pushes unless an observer asks for them. With
tracing on, pipecat's turn tracking and turn trace observers only look at speaking and
control frames: agent audio is not queued to them either, so tracing costs per turn and per
service call, never per frame.
"""

from __future__ import annotations

import functools
from typing import Any

from pipecat.frames.frames import Frame, InputAudioRawFrame, OutputAudioRawFrame
from pipecat.observers.base_observer import BaseObserver, FrameProcessed, FramePushed
from pipecat.observers.turn_tracking_observer import TurnTrackingObserver
from pipecat.pipeline.worker import PipelineWorker
from pipecat.pipeline.worker_observer import WorkerObserver
from pipecat.utils.asyncio.task_manager import BaseTaskManager
from pipecat.utils.tracing.turn_trace_observer import TurnTraceObserver

from pipeline.frame_plumbing import SelectiveObserver

# Observers that never look at audio frames (pipecat's tracing pair).
AUDIO_BLIND: tuple[type[BaseObserver], ...] = (TurnTrackingObserver, TurnTraceObserver)


def wants_input_audio(observer: BaseObserver) -> bool:
    """Whether ``observer`` looks at caller audio (RTVI's user audio level does)."""
    params = getattr(observer, "_params", None)
    return bool(getattr(params, "user_audio_level_enabled", False))


@functools.cache
def implements_on_process_frame(observer_type: type[BaseObserver]) -> bool:
    return observer_type.on_process_frame is not BaseObserver.on_process_frame


class CallWorkerObserver(SelectiveObserver, WorkerObserver):
    """A ``WorkerObserver`` that only queues frames an observer can act on.

    As a ``SelectiveObserver`` it also tells pipecat's push and process steps
    (``pipeline/frame_plumbing.py``) which frames it drops, so no record is built for them.
    """

    # (an observer reads caller audio, an observer implements ``on_process_frame``), kept
    # current as observers are set up, added and removed.
    _reads_input_audio = False
    _reads_processed = False

    def observes_push(self, frame: Frame) -> bool:
        return self._reads_input_audio or not isinstance(frame, InputAudioRawFrame)

    def observes_processed(self) -> bool:
        return self._reads_processed

    def _observers_changed(self) -> None:
        proxies = self._proxies or {}
        self._reads_input_audio = any(wants_input_audio(o) for o in proxies)
        self._reads_processed = any(implements_on_process_frame(type(o)) for o in proxies)

    async def setup(self, task_manager: BaseTaskManager) -> None:
        await super().setup(task_manager)
        self._observers_changed()

    def add_observer(self, observer: BaseObserver) -> None:
        super().add_observer(observer)
        self._observers_changed()

    async def remove_observer(self, observer: BaseObserver) -> None:
        await super().remove_observer(observer)
        self._observers_changed()

    async def on_process_frame(self, data: FrameProcessed) -> None:
        if not self._proxies:
            return
        for observer, proxy in self._proxies.items():
            if implements_on_process_frame(type(observer)):
                await proxy.queue.put(data)

    async def on_push_frame(self, data: FramePushed) -> None:
        if not self.observes_push(data.frame):
            return
        if isinstance(data.frame, OutputAudioRawFrame) and self._proxies:
            await self._push_audio(data)
            return
        await super().on_push_frame(data)

    async def _push_audio(self, data: FramePushed) -> None:
        """``WorkerObserver.on_push_frame`` for agent audio, skipping ``AUDIO_BLIND``."""
        frame = data.frame
        data.first_push = frame.id not in self._frames_pushed
        if data.first_push:
            self._frames_pushed[frame.id] = frame
        for observer, proxy in self._proxies.items():
            if isinstance(observer, AUDIO_BLIND):
                continue
            if data.first_push or observer.observe_every_push:
                await proxy.queue.put(data)


class CallWorker(PipelineWorker):
    """``PipelineWorker`` whose observers go through ``CallWorkerObserver``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # pipecat builds its WorkerObserver from the final observer list (ours plus the
        # idle, RTVI and latency observers it adds) in __init__; rebuild it with the same list
        # before anything has been set up with it.
        self._observer = CallWorkerObserver(observers=list(self._observer._observers))
