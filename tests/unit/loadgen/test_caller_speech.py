"""The caller toolkit's speech and audio helpers on real espeak-ng speech."""

from __future__ import annotations

import numpy as np
import pytest

from loadgen.audio import duration, frames, pcm_to_ulaw, silence_pcm, ulaw_to_pcm
from loadgen.speech import speech_pcm


def test_speech_helpers_rates_framing_and_ulaw():
    pcm8 = speech_pcm("hello there", 8000)
    pcm16 = speech_pcm("hello there", 16000)
    assert abs(duration(pcm8, 8000) - duration(pcm16, 16000)) < 0.01
    assert speech_pcm("hello there", 8000) is pcm8  # cached
    assert silence_pcm(0.5, 8000) == bytes(8000)
    chunks = frames(pcm8, 8000)
    assert all(len(c) == 320 for c in chunks)
    assert b"".join(chunks)[: len(pcm8)] == pcm8
    assert frames(pcm_to_ulaw(pcm8), 8000, sample_width=1)[0] == pcm_to_ulaw(pcm8)[:160]
    # mu-law round trip keeps speech within G.711's quantisation error
    restored = np.frombuffer(ulaw_to_pcm(pcm_to_ulaw(pcm8)), dtype=np.int16).astype(float)
    original = np.frombuffer(pcm8, dtype=np.int16).astype(float)
    assert np.abs(restored - original).max() <= np.abs(original).max() / 16 + 8


def test_ulaw_is_bit_exact_with_audioop():
    audioop = pytest.importorskip("audioop")  # gone in Python 3.13; the helpers are not
    every_sample = np.arange(-32768, 32768, dtype=np.int16).tobytes()
    assert pcm_to_ulaw(every_sample) == audioop.lin2ulaw(every_sample, 2)
    assert ulaw_to_pcm(bytes(range(256))) == audioop.ulaw2lin(bytes(range(256)), 2)
