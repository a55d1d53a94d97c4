"""What the fake Deepgram hears: energy-based speech detection in audio time, and real
recognition of the audio with PocketSphinx (the ``pocketsphinx`` wheel's en-US model)."""

from __future__ import annotations

from collections import deque

from loadgen.audio import StreamResampler, rms

FRAME_MS = 20
RECOGNIZER_RATE = 16000


class Recognizer:
    """PocketSphinx, fed 16 kHz PCM incrementally (one shared decoder per server)."""

    def __init__(self) -> None:
        from pocketsphinx import Decoder

        self._decoder = Decoder(samprate=RECOGNIZER_RATE, loglevel="FATAL")
        self._resample = StreamResampler(RECOGNIZER_RATE, RECOGNIZER_RATE)

    def start(self, sample_rate: int) -> None:
        """Begin an utterance of audio at ``sample_rate`` (resampled to the model's rate)."""
        self._resample = StreamResampler(sample_rate, RECOGNIZER_RATE)
        self._decoder.start_utt()

    def feed(self, pcm: bytes, *, last: bool = False) -> None:
        audio = self._resample(pcm, last=last)
        if audio:
            self._decoder.process_raw(audio, False, False)

    def partial(self) -> str:
        hyp = self._decoder.hyp()
        return hyp.hypstr if hyp else ""

    def finish(self) -> str:
        self.feed(b"", last=True)  # what the resampler still holds
        self._decoder.end_utt()
        return self.partial()


class SpeechDetector:
    """Energy-based speech detection over one connection's audio, in audio time."""

    def __init__(self, sample_rate: int, threshold: float, endpointing_ms: int) -> None:
        self.sample_rate = sample_rate
        self.frame_bytes = sample_rate * 2 * FRAME_MS // 1000
        self.threshold = threshold
        self.endpointing_frames = max(1, endpointing_ms // FRAME_MS)
        self._pending = bytearray()
        self.frames_seen = 0
        self.speaking = False
        self.voiced_run = 0
        self.silent_run = 0
        self.start_frame = 0
        self.lead: deque[bytes] = deque(maxlen=3)

    def starts(self, frame: bytes, voiced: bool) -> bool:
        """While silent: whether this frame completes 60 ms of sound (speech starts)."""
        self.lead.append(frame)
        self.voiced_run = self.voiced_run + 1 if voiced else 0
        if self.voiced_run < 3:
            return False
        self.speaking, self.silent_run, self.voiced_run = True, 0, 0
        self.start_frame = self.frames_seen - 3
        return True

    def ends(self, voiced: bool) -> bool:
        """While speaking: whether this frame completes the end-of-speech silence."""
        self.silent_run = 0 if voiced else self.silent_run + 1
        if self.silent_run < self.endpointing_frames:
            return False
        self.speaking = False
        return True

    def frames(self, pcm: bytes) -> list[tuple[bytes, bool]]:
        """Split into whole 20 ms frames, each with whether it is voiced."""
        self._pending.extend(pcm)
        out = []
        while len(self._pending) >= self.frame_bytes:
            frame = bytes(self._pending[: self.frame_bytes])
            del self._pending[: self.frame_bytes]
            self.frames_seen += 1
            out.append((frame, rms(frame) >= self.threshold))
        return out

    def seconds(self, frames: int) -> float:
        return frames * FRAME_MS / 1000
