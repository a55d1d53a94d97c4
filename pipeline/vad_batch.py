"""Silero VAD windows of every call on a loop, scored together: one ONNX run per batch.

Each call scores a Silero window every 32 ms (256 samples at 8 kHz, 512 at 16 kHz), and one
ONNX run of the small recurrent model costs about the same whether it scores one window or
several: measured on the bundled model, one intra-op thread, pinned (2026-12-01): 132 µs
for one window, 177 for 2, 235 for 4, 374 for 8 (47 µs a window). So the windows that calls
hand in within ``max_wait`` of each other are stacked into one batch (each call's recurrent
state and audio context gathered into the batch and scattered back after the run, as
pipecat's ``SileroOnnxModel`` keeps them for one call). A call's VAD waits at most
``max_wait`` for its score; a batch runs at once when every live stream has handed in a
window (so one call alone never waits), when it is full, or when a window may turn its
call's verdict (the last window before speech counts as started or stopped): the turn's
timing never waits for the batch, only the windows in between do. A call whose audio is
queued behind its VAD (a loaded loop, a burst of frames after a stall) has its windows
scored at once until it has caught up: a wait per window would let it fall further behind.
"At once" means in the caller's own step: the batch is run inside ``score`` and the call goes
on without yielding to the loop. Scheduling the run instead (``call_soon``) cost each such
window two loop iterations, and under 10 browser calls, whose aiortc work makes iterations
long, their VADs fell behind their audio for good and the callers' turns were lost
(BENCHMARKS.md step 11).

Scoring stays on the event loop, as the unbatched analyzer does (``pipeline.turn_models``):
a batch of 8 takes ~0.4 ms.
"""

from __future__ import annotations

import asyncio
import weakref
from dataclasses import dataclass

import numpy as np
import onnxruntime as ort
from loguru import logger
from pipecat.audio.vad.silero import SileroOnnxModel

#: A call's next window handed in sooner than this after its last was scored means its audio
#: is queued behind its VAD (on time, windows come 32 ms apart): it is scored at once.
BACKLOG_GAP_SECONDS = 0.005

#: The most windows in one run: past ~8 a window costs no less (measured above).
MAX_BATCH = 16

_max_wait = 0.010


def configure(max_wait_seconds: float) -> None:
    """How long a window may wait for others (``VAD_BATCH_MS``); 0 scores each at once."""
    global _max_wait
    _max_wait = max_wait_seconds


def max_wait() -> float:
    return _max_wait


def context_size(sample_rate: int) -> int:
    return 64 if sample_rate == 16000 else 32


def prepare(model: SileroOnnxModel, sample_rate: int) -> None:
    """The bookkeeping ``SileroOnnxModel.__call__`` does before a run of one stream:
    fresh state on the first window or a new sample rate, zero context after a reset."""
    if not model._last_batch_size or (model._last_sr and model._last_sr != sample_rate):
        model.reset_states(1)
    if not np.shape(model._context)[1]:
        model._context = np.zeros((1, context_size(sample_rate)), dtype=np.float32)


@dataclass(slots=True)
class _Window:
    model: SileroOnnxModel
    audio: bytes
    future: asyncio.Future[float]


class SileroBatcher:
    """The batches of one event loop, session and sample rate."""

    def __init__(self, session: ort.InferenceSession, sample_rate: int) -> None:
        self._session = session
        self._sample_rate = sample_rate
        self._sr = np.array(sample_rate, dtype=np.int64)
        self._context = context_size(sample_rate)
        self._pending: list[_Window] = []
        self._timer: asyncio.TimerHandle | None = None
        self.streams: weakref.WeakSet[SileroOnnxModel] = weakref.WeakSet()

    def score(self, model: SileroOnnxModel, audio: bytes, *, urgent: bool = False) -> asyncio.Future[float]:
        """The speech probability of one window (``audio``: 16-bit PCM, one window long) of
        ``model``'s stream, when its batch has run. A stream hands in one window at a time.
        ``urgent``: the window may turn its call's VAD verdict (speech starts or stops), so
        the batch runs now, with whatever windows are pending, instead of waiting."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[float] = loop.create_future()
        self.streams.add(model)
        self._pending.append(_Window(model, audio, future))
        if urgent or len(self._pending) >= min(MAX_BATCH, len(self.streams)):
            # run it here, in the caller's step: the future is done when returned, so its
            # call goes on without yielding. A hop through the loop (call_soon, then the
            # task's wake-up) costs two iterations per window, and a loaded loop's
            # iterations are long: 10 browser calls' VADs fell behind their audio for good
            self.flush()
        elif self._timer is None:
            self._timer = loop.call_later(_max_wait, self.flush)
        return future

    def release(self, model: SileroOnnxModel) -> None:
        """A stream that ended: batches no longer wait for it."""
        self.streams.discard(model)

    def flush(self) -> None:
        """Score every pending window in one run (the timer's callback, or ``score``'s)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        windows = [w for w in self._pending if not w.future.done()]  # a cancelled call: skip
        self._pending = []
        while windows:
            batch, windows = windows[:MAX_BATCH], windows[MAX_BATCH:]
            self._run(batch)

    def _run(self, batch: list[_Window]) -> None:
        n = len(batch)
        try:
            audio = np.frombuffer(b"".join(w.audio for w in batch), dtype=np.int16).reshape(n, -1)
            for w in batch:
                prepare(w.model, self._sample_rate)
            context = np.concatenate([w.model._context for w in batch])
            x = np.concatenate((context, audio.astype(np.float32) / 32768.0), axis=1)
            state = np.concatenate([w.model._state for w in batch], axis=1)
            out, new_state = self._session.run(None, {"input": x, "state": state, "sr": self._sr})
        except Exception as exc:  # as pipecat's analyzer: an unscorable window is silence;
            # and no call's VAD may wait forever on a batch that could not run
            logger.error(f"Silero VAD batch of {n} windows failed: {exc}")
            for w in batch:
                w.future.set_result(0.0)
            return
        for i, w in enumerate(batch):
            model = w.model
            model._state = new_state[:, i : i + 1, :]
            model._context = x[i : i + 1, -self._context :]
            model._last_sr = self._sample_rate
            model._last_batch_size = 1
            w.future.set_result(float(out[i, 0]))


_batchers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[object, int], SileroBatcher]] = (
    weakref.WeakKeyDictionary()
)


def batcher(session: ort.InferenceSession, sample_rate: int) -> SileroBatcher:
    """The running loop's batcher for ``session`` at ``sample_rate`` (futures belong to one
    loop; a server has one session, tests may bring their own)."""
    per_loop = _batchers.setdefault(asyncio.get_running_loop(), {})
    found = per_loop.get((session, sample_rate))
    if found is None:
        found = per_loop[(session, sample_rate)] = SileroBatcher(session, sample_rate)
    return found
