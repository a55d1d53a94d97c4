"""Silero VAD and Smart Turn: one ONNX session per process, state per call."""

from __future__ import annotations

import numpy as np

from pipeline.turn_models import SharedSileroVADAnalyzer, SharedSmartTurnAnalyzer
from tests.speech import speech_pcm


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
