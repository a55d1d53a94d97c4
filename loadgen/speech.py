"""Real speech for callers and fakes: espeak-ng synthesis at any rate, cut into frames.

    from loadgen.speech import speech_pcm
    from loadgen.audio import silence_pcm, pcm_to_ulaw, frames
    audio = silence_pcm(0.5, 8000) + speech_pcm("I would like to book a table", 8000)
    for chunk in frames(pcm_to_ulaw(audio), 8000, sample_width=1):   # 20 ms of μ-law
        ...

The caller voice (``en-us+f2`` at 175 wpm) is the espeak voice PocketSphinx recognises
best; recognition of espeak speech is approximate ("book a table" can come back as
"look at table"), so tests that route on words should pick distinctive ones ("yes",
"sales", "thank you") or check for any non-empty transcript. Fake text-to-speech providers
speak with the engine's default voice (``AGENT_VOICE``), so caller and agent sound apart.

Everything is cached per process: placing a call costs no synthesis.
"""

from __future__ import annotations

import base64
import functools
from dataclasses import dataclass

from loadgen.audio import frames, pcm_peak, pcm_to_ulaw, resample, ulaw_peak

CALLER_VOICE = "en-us+f2"
AGENT_VOICE = "en-us"
#: The voice of the load generator's scripted lines: ``DEFAULT_LINES`` were checked to be
#: complete turns for Smart Turn v3 in this voice (benchmark figures depend on it).
LINE_VOICE = "en-us"
RATE_WPM = 175
#: Peak linear amplitude above which a frame counts as speech (not silence/comfort noise).
VOICED_PEAK = 500


@functools.lru_cache(maxsize=256)
def speech_pcm(text: str, sample_rate: int, *, voice: str = CALLER_VOICE, rate_wpm: int = RATE_WPM) -> bytes:
    """``text`` spoken by espeak-ng as 16-bit mono PCM at ``sample_rate``."""
    from pipeline.engines import espeak  # the engine loads its C library on first use

    pcm, native_rate = espeak.synthesize(text, voice=voice, rate_wpm=rate_wpm)
    return resample(pcm, native_rate, sample_rate)


def agent_speech_pcm(text: str, sample_rate: int) -> bytes:
    """What a fake text-to-speech provider answers for ``text`` (the agent's voice)."""
    return speech_pcm(text, sample_rate, voice=AGENT_VOICE)


def _trimmed(chunks: list[bytes], peak) -> list[bytes]:
    """Drop the silent frames espeak pads its output with, so "last speech frame" is speech."""
    while chunks and peak(chunks[-1]) < VOICED_PEAK:
        chunks.pop()
    while chunks and peak(chunks[0]) < VOICED_PEAK:
        chunks.pop(0)
    return chunks


@dataclass(frozen=True, slots=True)
class Utterance:
    """A caller line as 20 ms frames of 8 kHz μ-law, already base64-encoded for a carrier's
    media message (sending a frame costs one string format)."""

    text: str
    frames_b64: tuple[str, ...]

    @property
    def seconds(self) -> float:
        return len(self.frames_b64) * 0.020


@functools.lru_cache(maxsize=64)
def utterance(text: str) -> Utterance:
    """``text`` spoken by the load caller as trimmed 8 kHz μ-law 20 ms frames."""
    ulaw = frames(pcm_to_ulaw(speech_pcm(text, 8000, voice=LINE_VOICE)), 8000, sample_width=1)
    return Utterance(text, tuple(base64.b64encode(f).decode() for f in _trimmed(ulaw, ulaw_peak)))


@functools.lru_cache(maxsize=64)
def pcm_utterance(text: str, sample_rate: int = 48_000) -> tuple[bytes, ...]:
    """``text`` spoken by the load caller as trimmed 16-bit PCM 20 ms frames at ``sample_rate``
    (a WebRTC microphone's audio)."""
    pcm = speech_pcm(text, sample_rate, voice=LINE_VOICE)
    return tuple(_trimmed(frames(pcm, sample_rate), pcm_peak))
