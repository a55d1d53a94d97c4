"""A scripted WebRTC caller for tests: an aiortc peer that speaks espeak-ng audio and listens.

It sends a 48 kHz mono audio track paced in real time (silence between utterances, like a
microphone), opens the data channel pipecat's SmallWebRTC transport expects, and keeps the
RMS level of every 20 ms frame it receives from the agent so tests can tell when the agent
speaks and when it stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import json
import time
from collections import deque

import av
import numpy as np
from aiortc import MediaStreamTrack, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError

from tests.speech import speech_pcm as _speech_pcm

RATE = 48_000
FRAME_SAMPLES = 960  # 20 ms
SPEECH_RMS = 300.0  # int16 RMS above which a received frame counts as speech


def speech_pcm(text: str) -> bytes:
    """Real speech for ``text`` (espeak-ng), 48 kHz 16-bit mono."""
    return _speech_pcm(text, RATE)


class MicrophoneTrack(MediaStreamTrack):
    """Plays queued PCM in real time, silence otherwise."""

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self._pending = bytearray()
        self._pts = 0
        self._start: float | None = None
        self.speaking = False
        self.done_speaking = asyncio.Event()

    def say(self, pcm: bytes) -> None:
        self._pending.extend(pcm)
        self.speaking = True
        self.done_speaking.clear()

    async def recv(self) -> av.AudioFrame:
        if self._start is None:
            self._start = time.monotonic()
        due = self._start + self._pts / RATE
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        chunk_bytes = FRAME_SAMPLES * 2
        if self._pending:
            chunk = bytes(self._pending[:chunk_bytes]).ljust(chunk_bytes, b"\x00")
            del self._pending[:chunk_bytes]
            if not self._pending:
                self.speaking = False
                self.done_speaking.set()
        else:
            chunk = b"\x00" * chunk_bytes
        frame = av.AudioFrame(format="s16", layout="mono", samples=FRAME_SAMPLES)
        frame.planes[0].update(chunk)
        frame.sample_rate = RATE
        frame.pts = self._pts
        frame.time_base = fractions.Fraction(1, RATE)
        self._pts += FRAME_SAMPLES
        return frame


class WebRTCCaller:
    """One browser-like peer: ``offer()`` → post it → ``accept(answer)``."""

    def __init__(self) -> None:
        self.pc = RTCPeerConnection()
        self.mic = MicrophoneTrack()
        self.levels: list[float] = []  # RMS per received frame, in arrival order
        self.messages: deque[dict] = deque(maxlen=500)
        self._reader: asyncio.Task | None = None
        self.channel = self.pc.createDataChannel("chat")
        self.pc.addTransceiver(self.mic, direction="sendrecv")

        @self.channel.on("message")
        def _on_message(message: str) -> None:
            with contextlib.suppress(ValueError):
                self.messages.append(json.loads(message))

        @self.pc.on("track")
        def _on_track(track) -> None:
            if track.kind == "audio":
                self._reader = asyncio.ensure_future(self._read(track))

    async def offer(self) -> dict:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        return {"sdp": self.pc.localDescription.sdp, "type": self.pc.localDescription.type}

    async def accept(self, answer: dict) -> None:
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type=answer["type"]))

    async def _read(self, track) -> None:
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            data = frame.to_ndarray().astype(np.float32)
            self.levels.append(float(np.sqrt(np.mean(data * data))) if data.size else 0.0)

    def speech_frames(self, start: int = 0) -> int:
        return sum(1 for level in self.levels[start:] if level > SPEECH_RMS)

    async def wait_for_speech(self, *, start: int = 0, frames: int = 10, timeout: float = 30) -> int:
        """Wait until the agent has spoken ``frames`` loud frames after index ``start``."""
        try:
            async with asyncio.timeout(timeout):
                while self.speech_frames(start) < frames:
                    await asyncio.sleep(0.05)
        except TimeoutError:
            raise AssertionError(f"no agent speech: {self.describe()}") from None
        return len(self.levels)

    def describe(self) -> str:
        return (
            f"received {len(self.levels)} frames, max level "
            f"{max(self.levels, default=0):.0f}, connection {self.pc.connectionState}, "
            f"ice {self.pc.iceConnectionState}, reader "
            f"{'none' if self._reader is None else ('done' if self._reader.done() else 'running')}"
        )

    async def wait_for_silence(self, *, frames: int = 40, timeout: float = 60) -> int:
        """Wait until the last ``frames`` received frames were all quiet; return the index."""
        async with asyncio.timeout(timeout):
            while True:
                tail = self.levels[-frames:]
                if len(tail) == frames and all(level <= SPEECH_RMS for level in tail):
                    return len(self.levels)
                await asyncio.sleep(0.05)

    async def say(self, text: str) -> None:
        """Speak ``text`` (synthesize it beforehand with ``speech_pcm`` to keep the loop free)."""
        self.mic.say(speech_pcm(text))
        await self.mic.done_speaking.wait()

    async def close(self) -> None:
        if self._reader:
            self._reader.cancel()
        await self.pc.close()
