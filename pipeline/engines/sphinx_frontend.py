"""Audio preparation for the wideband PocketSphinx model, run inside the decoder processes.

The bundled English model is trained on 16 kHz audio and leans on the 4-8 kHz band. Phone
audio (8 kHz) upsampled to 16 kHz has nothing there, which the model reads as a very odd
spectrum: on espeak test phrases word recall was 0.03. Filling the empty band with faint
white noise (-58 dBFS, far below any speech) brings it to ~0.3; 16 kHz audio is left as is.
Doing this in the decoder process keeps all per-frame DSP off the server's event loop.
"""

from __future__ import annotations

import numpy as np
import soxr

MODEL_RATE = 16000

#: RMS of the noise added above 4 kHz to narrowband audio (int16 scale).
NARROWBAND_NOISE_RMS = 40.0

_NOISE_SECONDS = 2


def _high_band_noise() -> np.ndarray:
    """A loop of white noise with everything below 4 kHz removed, at NARROWBAND_NOISE_RMS."""
    rng = np.random.default_rng(7)
    n = MODEL_RATE * _NOISE_SECONDS
    spectrum = np.fft.rfft(rng.standard_normal(n))
    spectrum[np.fft.rfftfreq(n, 1 / MODEL_RATE) < 4000] = 0
    noise = np.fft.irfft(spectrum, n)
    return (noise * (NARROWBAND_NOISE_RMS / noise.std())).astype(np.float32)


_noise: np.ndarray | None = None


class Frontend:
    """Turns one utterance's input-rate int16 PCM into what the decoder should hear."""

    def __init__(self, in_rate: int) -> None:
        global _noise
        self._resampler = (
            soxr.ResampleStream(in_rate, MODEL_RATE, 1, dtype="float32", quality="LQ")
            if in_rate != MODEL_RATE
            else None
        )
        if self._resampler is not None and _noise is None:
            _noise = _high_band_noise()
        self._offset = 0

    def process(self, pcm: bytes, *, last: bool = False) -> bytes:
        if self._resampler is None:
            return pcm
        samples = np.frombuffer(pcm, dtype=np.int16).astype(np.float32)
        out = self._resampler.resample_chunk(samples, last=last)
        if out.size == 0:
            return b""
        out += self._noise_slice(out.size)
        return np.clip(out, -32768, 32767).astype(np.int16).tobytes()

    def _noise_slice(self, size: int) -> np.ndarray:
        assert _noise is not None
        idx = (np.arange(size) + self._offset) % _noise.size
        self._offset = (self._offset + size) % _noise.size
        return _noise[idx]
