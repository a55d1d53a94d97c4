"""Real speech for tests: espeak-ng synthesis, silence, G.711 mu-law and fixed-size framing.

All audio is 16-bit signed little-endian mono PCM unless a name says otherwise.

    from tests.speech import speech_pcm, silence_pcm, pcm_to_ulaw, frames
    audio = silence_pcm(0.5, 8000) + speech_pcm("I would like to book a table", 8000)
    for chunk in frames(pcm_to_ulaw(audio), 8000, sample_width=1):   # 20 ms of mu-law
        ...

The default voice (``en-us+f2`` at 175 wpm) is the espeak voice PocketSphinx recognises
best; recognition of espeak speech is approximate ("book a table" can come back as
"look at table"), so tests that route on words should pick distinctive ones ("yes",
"sales", "thank you") or check for any non-empty transcript.
"""

from __future__ import annotations

import functools

import numpy as np
import soxr

from pipeline.engines import espeak

TEST_VOICE = "en-us+f2"
TEST_RATE_WPM = 175


@functools.lru_cache(maxsize=256)
def speech_pcm(
    text: str, sample_rate: int, *, voice: str = TEST_VOICE, rate_wpm: int = TEST_RATE_WPM
) -> bytes:
    """``text`` spoken by espeak-ng, resampled to ``sample_rate``. Cached per process."""
    pcm, native_rate = espeak.synthesize(text, voice=voice, rate_wpm=rate_wpm)
    if native_rate == sample_rate:
        return pcm
    samples = np.frombuffer(pcm, dtype=np.int16)
    resampled = soxr.resample(samples, native_rate, sample_rate, quality="HQ")
    return np.clip(np.round(resampled), -32768, 32767).astype(np.int16).tobytes()


def silence_pcm(seconds: float, sample_rate: int) -> bytes:
    """``seconds`` of digital silence."""
    return bytes(int(round(seconds * sample_rate)) * 2)


def duration(pcm: bytes, sample_rate: int) -> float:
    """Length of 16-bit mono PCM in seconds."""
    return len(pcm) / 2 / sample_rate


def rms(pcm: bytes) -> float:
    """Root-mean-square level of 16-bit PCM (0 for silence, ~1000+ for espeak speech)."""
    samples = np.frombuffer(pcm, dtype=np.int16).astype(np.float64)
    return float(np.sqrt(np.mean(samples**2))) if samples.size else 0.0


# G.711 mu-law, bit-exact with audioop.lin2ulaw / ulaw2lin (audioop leaves Python in 3.13).
_BIAS = 0x84
_CLIP_14BIT = 8159
_SEG_END_14BIT = np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF])


def pcm_to_ulaw(pcm: bytes) -> bytes:
    """Encode 16-bit PCM as 8-bit G.711 mu-law (one byte per sample)."""
    x = np.frombuffer(pcm, dtype=np.int16).astype(np.int32) >> 2  # 14-bit, as audioop
    mask = np.where(x < 0, 0x7F, 0xFF)
    x = np.minimum(np.abs(x), _CLIP_14BIT) + (_BIAS >> 2)
    seg = np.searchsorted(_SEG_END_14BIT, x, side="left")
    shift = np.clip(seg + 1, 0, 15)
    value = (seg << 4) | ((x >> shift) & 0x0F)
    out = np.where(seg >= 8, 0x7F, value) ^ mask
    return (out & 0xFF).astype(np.uint8).tobytes()


def ulaw_to_pcm(ulaw: bytes) -> bytes:
    """Decode 8-bit G.711 mu-law to 16-bit PCM."""
    u = ~np.frombuffer(ulaw, dtype=np.uint8).astype(np.int32) & 0xFF
    t = (((u & 0x0F) << 3) + _BIAS) << ((u & 0x70) >> 4)
    pcm = np.where(u & 0x80, _BIAS - t, t - _BIAS)
    return pcm.astype(np.int16).tobytes()


def frames(audio: bytes, sample_rate: int, ms: int = 20, *, sample_width: int = 2) -> list[bytes]:
    """Split audio into ``ms``-long frames; the last one is padded with silence.

    ``sample_width`` is 2 for 16-bit PCM, 1 for mu-law (whose silence byte is 0xFF).
    """
    size = sample_rate * ms // 1000 * sample_width
    pad = b"\xff" if sample_width == 1 else b"\x00"
    out = [audio[i : i + size] for i in range(0, len(audio), size)]
    if out and len(out[-1]) < size:
        out[-1] = out[-1] + pad * (size - len(out[-1]))
    return out
