"""The scripted caller's audio: espeak-ng speech as 8 kHz μ-law, cut into 20 ms frames.

Frames are synthesised once per process and shared by every call, already base64-encoded,
so placing a call costs no synthesis and sending a frame costs one string format.
"""

from __future__ import annotations

import audioop
import base64
from dataclasses import dataclass
from functools import lru_cache

SAMPLE_RATE = 8000
FRAME_BYTES = 160  # 20 ms of 8 kHz μ-law
SILENCE_ULAW = b"\xff" * FRAME_BYTES
SILENCE_B64 = base64.b64encode(SILENCE_ULAW).decode()
#: Peak linear amplitude above which a bot frame counts as speech (not silence/comfort noise).
VOICED_PEAK = 500

#: Caller lines without internal pauses, each judged a complete turn by Smart Turn v3 when
#: spoken by espeak-ng (so turn detection, not the script, decides the end-of-turn wait).
DEFAULT_LINES = (
    "I would like to book a table for tonight.",
    "Do you have a table for four on Friday?",
    "Seven o'clock works for me.",
    "My name is Alex.",
    "Thank you very much.",
)


@dataclass(frozen=True, slots=True)
class Utterance:
    text: str
    frames_b64: tuple[str, ...]

    @property
    def seconds(self) -> float:
        return len(self.frames_b64) * FRAME_BYTES / SAMPLE_RATE


def pcm16_to_ulaw_frames(pcm: bytes, sample_rate: int) -> list[bytes]:
    """Resample 16-bit mono PCM to 8 kHz, encode μ-law and cut into 20 ms frames."""
    if sample_rate != SAMPLE_RATE:
        pcm, _ = audioop.ratecv(pcm, 2, 1, sample_rate, SAMPLE_RATE, None)
    ulaw = audioop.lin2ulaw(pcm, 2)
    pad = (-len(ulaw)) % FRAME_BYTES
    ulaw += b"\xff" * pad
    return [ulaw[i : i + FRAME_BYTES] for i in range(0, len(ulaw), FRAME_BYTES)]


@lru_cache(maxsize=64)
def utterance(text: str) -> Utterance:
    """``text`` spoken by espeak-ng, as base64 μ-law 20 ms frames (cached per process)."""
    from pipeline.engines.espeak import synthesize

    pcm, rate = synthesize(text)
    frames = pcm16_to_ulaw_frames(pcm, rate)
    # espeak pads its output with silence; trim it so "last speech frame" means speech.
    while frames and audioop.max(audioop.ulaw2lin(frames[-1], 2), 2) < VOICED_PEAK:
        frames.pop()
    while frames and audioop.max(audioop.ulaw2lin(frames[0], 2), 2) < VOICED_PEAK:
        frames.pop(0)
    return Utterance(text, tuple(base64.b64encode(f).decode() for f in frames))


def is_voiced(ulaw: bytes) -> bool:
    """True when a μ-law frame holds audible audio."""
    return audioop.max(audioop.ulaw2lin(ulaw, 2), 2) >= VOICED_PEAK


@lru_cache(maxsize=64)
def pcm_utterance(text: str, sample_rate: int = 48_000) -> tuple[bytes, ...]:
    """``text`` spoken by espeak-ng as 16-bit mono PCM 20 ms frames at ``sample_rate``
    (the WebRTC channel's microphone audio), trimmed like :func:`utterance` (cached)."""
    from pipeline.engines.espeak import synthesize

    pcm, rate = synthesize(text)
    if rate != sample_rate:
        pcm, _ = audioop.ratecv(pcm, 2, 1, rate, sample_rate, None)
    size = sample_rate // 50 * 2
    pcm += b"\x00" * ((-len(pcm)) % size)
    frames = [pcm[i : i + size] for i in range(0, len(pcm), size)]
    while frames and audioop.max(frames[-1], 2) < VOICED_PEAK:
        frames.pop()
    while frames and audioop.max(frames[0], 2) < VOICED_PEAK:
        frames.pop(0)
    return tuple(frames)
