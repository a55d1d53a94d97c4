"""A scripted WebRTC caller for tests: an aiortc peer that speaks espeak-ng audio and listens.

Its microphone is the load generator's (:class:`loadgen.webrtc_caller.Microphone`: 48 kHz
mono 20 ms frames paced on an absolute clock, silence between utterances); it opens the data
channel pipecat's SmallWebRTC transport expects and keeps the RMS level of every 20 ms frame
it receives from the agent so tests can tell when the agent speaks and when it stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import deque

import numpy as np
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError

from loadgen.audio import frames
from loadgen.speech import speech_pcm as _speech_pcm
from loadgen.webrtc_caller import RATE, Microphone

SPEECH_RMS = 300.0  # int16 RMS above which a received frame counts as speech


def speech_pcm(text: str) -> bytes:
    """Real speech for ``text`` (espeak-ng, the caller's voice), 48 kHz 16-bit mono."""
    return _speech_pcm(text, RATE)


class WebRTCCaller:
    """One browser-like peer: ``offer()`` → post it → ``accept(answer)``."""

    def __init__(self) -> None:
        self.pc = RTCPeerConnection()
        self.mic = Microphone()
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
        """Speak ``text`` (synthesized in a thread: the loop keeps pacing audio meanwhile)."""
        done: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self.mic.say(frames(await asyncio.to_thread(speech_pcm, text), RATE), done)
        await done

    async def close(self) -> None:
        if self._reader:
            self._reader.cancel()
        await self.pc.close()
