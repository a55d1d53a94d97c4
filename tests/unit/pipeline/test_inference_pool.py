"""Smart Turn inference runs on the process's shared low-priority threads, not a thread per call."""

from __future__ import annotations

import os
import sys
import threading

import numpy as np
import pytest

from loadgen.speech import speech_pcm
from pipeline.inference_pool import INFERENCE_NICE, workers
from pipeline.turn_models import SharedSmartTurnAnalyzer


class _Recording(SharedSmartTurnAnalyzer):
    """Records where each prediction ran (the prediction itself is the real model's)."""

    def __init__(self) -> None:
        super().__init__(sample_rate=16000)
        self.ran_on: list[tuple[str, int]] = []

    def _predict_endpoint(self, audio_array: np.ndarray) -> dict:
        nice = os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) if sys.platform == "linux" else 0
        self.ran_on.append((threading.current_thread().name, nice))
        return super()._predict_endpoint(audio_array)


async def _end_of_turn(analyzer: _Recording) -> None:
    analyzer.set_sample_rate(16000)
    speech = speech_pcm("I would like a table for two", 16000)
    frame = 320 * 2
    for i in range(0, len(speech) - frame, frame):
        analyzer.append_audio(speech[i : i + frame], is_speech=True)
    analyzer.append_audio(bytes(frame), is_speech=False)
    state, metrics = await analyzer.analyze_end_of_turn()
    assert metrics is not None  # a prediction ran


async def test_calls_run_smart_turn_on_the_shared_inference_threads():
    calls = [_Recording() for _ in range(3)]
    for call in calls:
        await _end_of_turn(call)
    names = {name for call in calls for name, _ in call.ran_on}
    assert all(name.startswith("smart-turn") for name in names)
    assert len(names) <= workers()  # not one thread per call
    await calls[0].cleanup()  # a call's clean-up leaves the shared threads to the others
    await _end_of_turn(calls[1])
    assert calls[1].ran_on[-1][0].startswith("smart-turn")


@pytest.mark.skipif(sys.platform != "linux", reason="per-thread nice is Linux's")
async def test_inference_threads_run_below_the_event_loop_priority():
    call = _Recording()
    await _end_of_turn(call)
    loop_nice = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    assert call.ran_on[-1][1] == min(19, loop_nice + INFERENCE_NICE)


def test_configured_size_wins_until_the_pool_runs():
    from pipeline import inference_pool as pool

    running, before = pool._pool, pool._threads
    pool._pool = None  # as in a fresh process (another test's app may have started it)
    try:
        pool.configure(3)
        assert workers() == 3
        pool.configure(None)
        assert workers() == pool.cores()
        pool._pool = running or pool.ThreadPoolExecutor(max_workers=1)
        with pytest.raises(RuntimeError, match="already running"):
            pool.configure(7)
    finally:
        if running is None and pool._pool is not None:
            pool._pool.shutdown()
        pool._pool, pool._threads = running, before
