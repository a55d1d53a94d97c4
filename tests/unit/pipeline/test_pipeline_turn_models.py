"""Silero VAD and Smart Turn: one ONNX session per process, state per call."""

from __future__ import annotations

import numpy as np
from pipecat.audio.vad.vad_analyzer import VADParams, VADState

from loadgen.speech import speech_pcm
from pipeline.turn_models import SharedSileroVADAnalyzer, SharedSmartTurnAnalyzer


def test_calls_share_the_onnx_sessions_but_not_the_state():
    a, b = SharedSileroVADAnalyzer(sample_rate=16000), SharedSileroVADAnalyzer(sample_rate=16000)
    a.set_sample_rate(16000)
    b.set_sample_rate(16000)
    assert a._model.session is b._model.session
    assert SharedSmartTurnAnalyzer()._session is SharedSmartTurnAnalyzer()._session

    speech = speech_pcm("hello there, how are you today", 16000)
    window = 512 * 2
    confidences = [
        float(np.asarray(a.voice_confidence(speech[i : i + window])).ravel()[0])
        for i in range(0, len(speech) - window, window)
    ]
    assert max(confidences) > 0.7  # real speech is detected...
    assert not np.array_equal(a._model._state, b._model._state)  # ...in a's state only
    silence = bytes(window)
    assert (
        float(np.asarray(b.voice_confidence(silence)).ravel()[0]) < 0.2
    )  # b is unaffected: silence is silence


async def test_vad_runs_on_the_loop_without_a_thread_per_call():
    vad = SharedSileroVADAnalyzer(params=VADParams(start_secs=0.2, stop_secs=0.2))
    vad.set_sample_rate(8000)
    speech = speech_pcm("hello there, how are you today", 8000)
    frame = 160 * 2  # 20 ms at 8 kHz, as a phone call delivers it
    states = [
        await vad.analyze_audio(speech[i : i + frame]) for i in range(0, len(speech) - frame, frame)
    ]
    for _ in range(30):  # 600 ms of silence after the speech
        states.append(await vad.analyze_audio(bytes(frame)))
    assert VADState.SPEAKING in states and states[-1] == VADState.QUIET
    assert not vad._executor._threads  # pipecat's per-analyzer executor never started a thread
