"""Silero VAD windows of several calls scored in one ONNX run (``pipeline.vad_batch``)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import numpy as np
import pytest
from pipecat.audio.vad.vad_analyzer import VADParams, VADState

from loadgen.script import DENSE_LINES
from loadgen.speech import speech_pcm
from pipeline import vad_batch
from pipeline.turn_models import SharedSileroVADAnalyzer, silero_session

FRAME = 160 * 2  # 20 ms at 8 kHz, as a phone call delivers it
LINES = DENSE_LINES[:4]  # the load generator's dense callers' lines


@pytest.fixture(autouse=True)
def _fresh_batches() -> Iterator[None]:
    before = vad_batch.max_wait()
    yield
    vad_batch.configure(before)
    for per_loop in vad_batch._batchers.values():  # no test's pending window or timer carries over
        for batcher in per_loop.values():
            if batcher._timer is not None:
                batcher._timer.cancel()
    vad_batch._batchers.clear()


class CountingSession:
    """The real Silero session, counting its runs and the windows in each."""

    def __init__(self) -> None:
        self.session = silero_session()
        self.batches: list[int] = []

    def run(self, names, feeds):  # noqa: ANN001 - onnxruntime's signature
        self.batches.append(len(feeds["input"]))
        return self.session.run(names, feeds)


def _analyzer(session: object | None = None) -> SharedSileroVADAnalyzer:
    vad = SharedSileroVADAnalyzer(params=VADParams(start_secs=0.2, stop_secs=0.2))
    vad.set_sample_rate(8000)
    if session is not None:
        vad._model.session = session
    return vad


def _live(*vads: SharedSileroVADAnalyzer) -> None:
    """Make the batcher count these VADs as live calls before their first window."""
    for vad in vads:
        vad._batcher = vad_batch.batcher(vad._model.session, 8000)
        vad._batcher.streams.add(vad._model)


def _recording(vad: SharedSileroVADAnalyzer) -> list[float]:
    """The confidences the VAD's state machine was given, window by window."""
    seen: list[float] = []
    reset = vad._maybe_reset_model

    def record(confidence: float) -> None:
        seen.append(float(np.asarray(confidence).ravel()[0]))
        reset(confidence)

    vad._maybe_reset_model = record  # type: ignore[method-assign]
    return seen


async def _calls(wait: float, session: object | None = None):
    """Four callers' lines (and 0.6 s of silence) through four VADs at once, their frames
    interleaved at different paces."""
    vad_batch.configure(wait)
    audio = [speech_pcm(line, 8000) + bytes(FRAME * 30) for line in LINES]
    vads = [_analyzer(session) for _ in audio]
    confidences = [_recording(v) for v in vads]
    states: list[list[VADState]] = [[] for _ in vads]

    async def call(k: int) -> None:
        pcm = audio[k]
        for i in range(0, len(pcm) - FRAME + 1, FRAME):
            states[k].append(await vads[k].analyze_audio(pcm[i : i + FRAME]))
            await asyncio.sleep(0.001 * (k + 1))

    await asyncio.gather(*(call(k) for k in range(len(vads))))
    for v in vads:
        await v.cleanup()
    return confidences, states


async def test_batched_windows_score_and_decide_as_each_call_alone():
    alone_conf, alone_states = await _calls(0)
    counting = CountingSession()
    batched_conf, batched_states = await _calls(0.02, counting)

    assert max(counting.batches) > 1  # windows of several calls went through one run...
    assert len(counting.batches) < sum(len(c) for c in batched_conf)  # ...fewer runs than windows
    for alone, batched in zip(alone_conf, batched_conf, strict=True):
        assert len(alone) == len(batched) > 50
        np.testing.assert_allclose(batched, alone, rtol=0, atol=1e-5)
    assert batched_states == alone_states
    for states in batched_states:
        assert VADState.SPEAKING in states and states[-1] == VADState.QUIET


async def test_one_call_alone_never_waits_for_the_timer():
    vad_batch.configure(30.0)  # a window that waited for the timer would time this test out
    vad = _analyzer()
    speech = speech_pcm("hello there, how are you today", 8000)
    async with asyncio.timeout(10):
        states = [
            await vad.analyze_audio(speech[i : i + FRAME]) for i in range(0, len(speech) - FRAME, FRAME)
        ]
    assert VADState.SPEAKING in states


async def test_a_window_waits_at_most_the_batch_time_for_a_silent_call():
    vad_batch.configure(0.05)
    talking, silent = _analyzer(), _analyzer()
    await silent.analyze_audio(bytes(FRAME * 2))  # known to the batcher, then silent
    loop = asyncio.get_running_loop()
    start = loop.time()
    async with asyncio.timeout(10):
        await talking.analyze_audio(bytes(FRAME * 2))
    assert loop.time() - start >= 0.04  # it waited for the silent call's window...

    await silent.cleanup()  # ...until that call ended
    start = loop.time()
    await talking.analyze_audio(bytes(FRAME * 2))
    assert loop.time() - start < 0.04


async def test_a_cancelled_call_leaves_the_others_scored():
    vad_batch.configure(0.05)
    counting = CountingSession()
    a, b = _analyzer(counting), _analyzer(counting)
    _live(a, b)  # two live calls: a's window waits for b's
    state_before = a._model._state.copy()
    task = asyncio.create_task(a.analyze_audio(bytes(FRAME * 2)))
    await asyncio.sleep(0)
    task.cancel()
    async with asyncio.timeout(10):
        assert await b.analyze_audio(speech_pcm("hello", 8000)[: FRAME * 2]) == VADState.QUIET
    assert counting.batches == [1]  # the cancelled window was not scored...
    assert np.array_equal(a._model._state, state_before)  # ...nor did it move its stream


async def test_a_failed_run_scores_silence_for_every_window():
    class Failing:
        def run(self, names, feeds):  # noqa: ANN001
            raise RuntimeError("onnx failed")

    vad_batch.configure(0.05)
    a, b = _analyzer(Failing()), _analyzer(Failing())
    seen_a, seen_b = _recording(a), _recording(b)
    async with asyncio.timeout(10):
        await asyncio.gather(a.analyze_audio(bytes(FRAME * 2)), b.analyze_audio(bytes(FRAME * 2)))
    assert seen_a == [0.0] and seen_b == [0.0]


async def test_frames_of_several_windows_are_scored_one_by_one():
    vad_batch.configure(0.05)
    counting = CountingSession()
    vad = _analyzer(counting)
    async with asyncio.timeout(10):
        await vad.analyze_audio(bytes(256 * 2 * 3))  # three windows in one frame
    assert counting.batches == [1, 1, 1]  # not batched: pipecat's own path, window by window


async def test_a_window_that_may_end_or_start_speech_does_not_wait():
    vad_batch.configure(30.0)  # a window that waited for the timer would time this test out
    stopping, starting, other = _analyzer(), _analyzer(), _analyzer()
    _live(stopping, starting, other)  # three live calls: no batch is complete alone
    stopping._vad_state, stopping._vad_stopping_count = VADState.STOPPING, stopping._vad_stop_frames - 1
    starting._vad_state, starting._vad_starting_count = VADState.STARTING, starting._vad_start_frames - 1
    speech = speech_pcm("hello there, how are you today", 8000)
    loud = max(
        range(0, len(speech) - 512, 320),
        key=lambda i: abs(np.frombuffer(speech[i : i + 512], np.int16)).mean(),
    )
    starting._prev_volume = 1.0  # the smoothed volume of speech already under way
    async with asyncio.timeout(10):
        assert await stopping.analyze_audio(bytes(FRAME * 2)) == VADState.QUIET  # speech stopped
        assert await starting.analyze_audio(speech[loud : loud + FRAME * 2]) == VADState.SPEAKING
    waiting = asyncio.create_task(other.analyze_audio(bytes(FRAME * 2)))  # decides nothing
    await asyncio.sleep(0.1)
    assert not waiting.done()  # it waits for the batch
    waiting.cancel()


async def test_a_call_behind_its_audio_catches_up_without_waiting():
    """Frames queued behind the VAD (a burst after a stall) are scored as they come: a
    wait per window would never catch up."""
    vad_batch.configure(1.0)  # 30 windows that each waited for the timer: 30 s
    burst, other = _analyzer(), _analyzer()
    _live(other)  # another live call, silent for now
    speech = speech_pcm("hello there, how are you today", 8000)
    async with asyncio.timeout(5):
        for i in range(0, len(speech) - FRAME, FRAME):  # back to back, as a queue delivers
            await burst.analyze_audio(speech[i : i + FRAME])
    assert burst._windows_since_reset > 30


async def test_a_batch_that_cannot_be_assembled_scores_silence_instead_of_hanging():
    vad_batch.configure(0.05)
    a, b = _analyzer(), _analyzer()
    _live(a, b)  # two live calls: their windows go into one batch
    b._model._last_sr, b._model._last_batch_size = 8000, 1  # a stream under way...
    b._model._context = np.zeros((1, 7), np.float32)  # ...with a context no batch can stack
    seen_a = _recording(a)
    async with asyncio.timeout(10):
        await asyncio.gather(a.analyze_audio(bytes(FRAME * 2)), b.analyze_audio(bytes(FRAME * 2)))
    assert seen_a == [0.0]


async def test_a_window_scored_at_once_does_not_yield_to_the_loop():
    """A window that runs its batch at once (here: a call behind its audio) is scored in
    the caller's own step. Through the loop it would cost iterations, and a loaded loop's
    iterations are long: ten browser calls' VADs fell behind their audio for good."""
    vad_batch.configure(0.05)
    burst, other = _analyzer(), _analyzer()
    _live(other)  # another live call, silent: no batch is complete without it
    ticks = 0

    async def other_work() -> None:  # one tick per loop iteration
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    ticker = asyncio.create_task(other_work())
    speech = speech_pcm("hello there, how are you today", 8000)
    frames = [speech[i : i + FRAME] for i in range(0, len(speech) - FRAME, FRAME)]
    async with asyncio.timeout(10):
        await burst.analyze_audio(frames[0])
        await burst.analyze_audio(frames[1])  # the first window: waits for the batch time
        before = ticks
        for frame in frames[2:]:  # back to back, as a queue delivers: each window behind
            await burst.analyze_audio(frame)
    ticker.cancel()
    assert burst._windows_since_reset > 30
    assert ticks == before  # no window of the burst gave the loop an iteration
