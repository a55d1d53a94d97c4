"""Caller audio: G.711 μ-law, resampling, fixed-size framing, silence and levels.

All audio is 16-bit signed little-endian mono PCM unless a name says otherwise. Nothing here
synthesizes speech (that is :mod:`loadgen.speech`); everything is a pure function on bytes.

μ-law is done with lookup tables built once at import (bit-exact with ``audioop.lin2ulaw`` /
``ulaw2lin``, which leave Python in 3.13): encoding or decoding a 20 ms frame is one numpy
index, and :func:`ulaw_peak` (is a frame voiced?) is a ``bytes.translate`` plus ``max``.
"""

from __future__ import annotations

import numpy as np
import soxr

ULAW_SILENCE = 0xFF  # μ-law code of a zero sample

# -- G.711 μ-law ---------------------------------------------------------------------------
_BIAS = 0x84
_CLIP_14BIT = 8159
_SEG_END_14BIT = np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF])


def _encode(samples: np.ndarray) -> np.ndarray:
    x = samples.astype(np.int32) >> 2  # 14-bit, as audioop
    mask = np.where(x < 0, 0x7F, 0xFF)
    x = np.minimum(np.abs(x), _CLIP_14BIT) + (_BIAS >> 2)
    seg = np.searchsorted(_SEG_END_14BIT, x, side="left")
    shift = np.clip(seg + 1, 0, 15)
    value = (seg << 4) | ((x >> shift) & 0x0F)
    out = np.where(seg >= 8, 0x7F, value) ^ mask
    return (out & 0xFF).astype(np.uint8)


def _decode(codes: np.ndarray) -> np.ndarray:
    u = ~codes.astype(np.int32) & 0xFF
    t = (((u & 0x0F) << 3) + _BIAS) << ((u & 0x70) >> 4)
    return np.where(u & 0x80, _BIAS - t, t - _BIAS).astype(np.int16)


#: Every int16 sample (indexed as uint16) -> its μ-law code.
_LIN2ULAW = _encode(np.arange(65536, dtype=np.uint16).view(np.int16))
#: Every μ-law code -> its int16 sample.
_ULAW2LIN = _decode(np.arange(256, dtype=np.uint8))
#: μ-law code -> its 7-bit magnitude rank (the sign bit dropped; larger rank, louder sample).
_ULAW_RANK = bytes((~code) & 0x7F for code in range(256))
#: Magnitude rank -> the absolute sample value it decodes to.
_RANK_PEAK = tuple(abs(int(_ULAW2LIN[(~rank) & 0x7F])) for rank in range(128))


def pcm_to_ulaw(pcm: bytes) -> bytes:
    """Encode 16-bit PCM as 8-bit G.711 μ-law (one byte per sample)."""
    return _LIN2ULAW[np.frombuffer(pcm, dtype=np.uint16)].tobytes()


def ulaw_to_pcm(ulaw: bytes) -> bytes:
    """Decode 8-bit G.711 μ-law to 16-bit PCM."""
    return _ULAW2LIN[np.frombuffer(ulaw, dtype=np.uint8)].tobytes()


def ulaw_peak(ulaw: bytes) -> int:
    """The peak absolute sample of a μ-law frame, without decoding it (0 for empty input)."""
    return _RANK_PEAK[max(ulaw.translate(_ULAW_RANK), default=0)]


# -- levels, silence, framing --------------------------------------------------------------
def pcm_peak(pcm: bytes | memoryview) -> int:
    """The peak absolute sample of 16-bit PCM (0 for empty input)."""
    samples = np.frombuffer(pcm[: len(pcm) - len(pcm) % 2], dtype=np.int16)
    return int(np.abs(samples.astype(np.int32)).max()) if samples.size else 0


def rms(pcm: bytes) -> float:
    """Root-mean-square level of 16-bit PCM (0 for silence or empty input, ~1000+ for espeak
    speech)."""
    samples = np.frombuffer(pcm[: len(pcm) - len(pcm) % 2], dtype=np.int16).astype(np.float64)
    return float(np.sqrt(np.mean(samples * samples))) if samples.size else 0.0


def silence_pcm(seconds: float, sample_rate: int) -> bytes:
    """``seconds`` of digital silence."""
    return bytes(int(round(seconds * sample_rate)) * 2)


def duration(pcm: bytes, sample_rate: int) -> float:
    """Length of 16-bit mono PCM in seconds."""
    return len(pcm) / 2 / sample_rate


def frames(audio: bytes, sample_rate: int, ms: int = 20, *, sample_width: int = 2) -> list[bytes]:
    """Split audio into ``ms``-long frames; the last one is padded with silence.

    ``sample_width`` is 2 for 16-bit PCM, 1 for μ-law (whose silence byte is 0xFF).
    """
    size = sample_rate * ms // 1000 * sample_width
    pad = bytes([ULAW_SILENCE]) if sample_width == 1 else b"\x00"
    out = [audio[i : i + size] for i in range(0, len(audio), size)]
    if out and len(out[-1]) < size:
        out[-1] = out[-1] + pad * (size - len(out[-1]))
    return out


def resample(pcm: bytes, from_rate: int, to_rate: int) -> bytes:
    """Resample a whole 16-bit mono PCM clip (soxr, high quality)."""
    if from_rate == to_rate or not pcm:
        return pcm
    samples = np.frombuffer(pcm, dtype=np.int16)
    out = soxr.resample(samples, from_rate, to_rate, quality="HQ")
    return np.clip(np.round(out), -32768, 32767).astype(np.int16).tobytes()


class StreamResampler:
    """Resample 16-bit mono PCM arriving in chunks (filter state carried across chunks)."""

    def __init__(self, from_rate: int, to_rate: int) -> None:
        self._same = from_rate == to_rate
        self._stream = None if self._same else soxr.ResampleStream(from_rate, to_rate, 1, dtype="int16")

    def __call__(self, pcm: bytes, *, last: bool = False) -> bytes:
        if self._stream is None:
            return pcm
        return self._stream.resample_chunk(np.frombuffer(pcm, dtype=np.int16), last=last).tobytes()
