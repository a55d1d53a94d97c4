"""One scripted caller over WebRTC: an aiortc peer talking to ``POST /api/v1/webrtc/offer``.

The call: fetch the STUN/TURN servers (``GET /api/v1/webrtc/ice-servers``, as the talk page
does), create an SDP offer (a send/receive audio transceiver and the data channel
pipecat's SmallWebRTC transport expects), post it with the ``workflow_id`` and an API key or
access token as ``Authorization: Bearer``, apply the answer and wait for the peer connection
to be ``connected``. From then on the microphone track sends 20 ms frames of 16-bit mono PCM
at 48 kHz (Opus's rate) paced on an absolute :class:`FrameClock`: the script's espeak-ng
speech when it speaks, silence otherwise. Every decoded frame of the bot's track is timed
into the same :class:`CallTimeline` as a Twilio call, and the scripted dialogue is
:meth:`ScriptedCaller._script`, so both channels measure the same things:

- setup: the peer connection became ``connected`` (the media path is up, like Twilio's
  ``start``) → the first non-silent bot frame. The offer's HTTP round trip is reported in the
  signalling row (``webhook_seconds``), offer posted → connected in ``connect_seconds``.
- voice-to-voice: the microphone handed its last speech frame to the encoder → the first
  non-silent bot frame decoded after it.
- lateness: the same playout clock over the same frames. The server's WebRTC track streams
  silence between answers, which Twilio's media stream does not send, so only answers count
  as bot audio: from an answer's first voiced frame to its last (pauses inside it included);
  its playout clock starts at that first frame (and at each caller turn, as for Twilio).

WebRTC has no ``clear`` message: after a barge-in, bot audio counts as the new answer only
once the interrupted one has stopped (a run of silent frames, :data:`BARGE_IN_GAP`).
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import time
from collections import deque

import av
import httpx
from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError

from loadgen.audio import pcm_peak
from loadgen.pacing import FrameClock
from loadgen.script import CallResult, CallScript, ScriptedCaller, StreamError
from loadgen.speech import VOICED_PEAK, pcm_utterance
from loadgen.targets import WebRTCTarget

RATE = 48_000  # Opus always runs at 48 kHz; the server resamples to its pipeline rate
#: Silence that marks the end of an interrupted answer after a barge-in (no ``clear`` here).
BARGE_IN_GAP = 0.2
CONNECT_TIMEOUT = 15.0


class Microphone(MediaStreamTrack):
    """The caller's audio track: queued speech frames in real time on an absolute
    :class:`FrameClock`, silence otherwise."""

    kind = "audio"

    def __init__(self, rate: int = RATE) -> None:
        super().__init__()
        self.rate = rate
        self.samples = rate // 50
        self._silence = bytes(self.samples * 2)
        self._time_base = fractions.Fraction(1, rate)
        self._speech: deque[bytes] = deque()
        self._done: asyncio.Future[float] | None = None
        self.clock: FrameClock | None = None

    def say(self, frames: tuple[bytes, ...] | list[bytes], done: asyncio.Future[float] | None = None) -> None:
        """Queue 20 ms ``frames``; ``done`` gets the time the last one was handed to the encoder."""
        self._done = done
        self._speech.extend(frames)

    @property
    def speaking(self) -> bool:
        return bool(self._speech)

    async def recv(self) -> av.AudioFrame:
        clock = self.clock
        if clock is None:  # the first pull by the RTP sender starts the absolute clock
            clock = self.clock = FrameClock(time.monotonic())
        await clock.wait_next()
        pcm = self._speech.popleft() if self._speech else self._silence
        frame = av.AudioFrame(format="s16", layout="mono", samples=self.samples)
        frame.planes[0].update(pcm)
        frame.sample_rate = self.rate
        frame.pts = clock.index * self.samples
        frame.time_base = self._time_base
        clock.record_sent()
        if not self._speech and self._done is not None:
            if not self._done.done():
                self._done.set_result(time.monotonic())
            self._done = None
        return frame


def frame_voiced(frame: av.AudioFrame) -> bool:
    """True when a decoded s16 frame holds audible audio (same threshold as μ-law frames)."""
    size = frame.samples * len(frame.layout.channels) * 2
    return pcm_peak(memoryview(frame.planes[0])[:size]) >= VOICED_PEAK


class WebRTCLoadCaller(ScriptedCaller):
    """Places one browser-like call; ``await run()`` returns its :class:`CallResult`."""

    def __init__(self, index: int, target: WebRTCTarget, script: CallScript, http: httpx.AsyncClient) -> None:
        super().__init__(index, script)
        self.webrtc = target
        self.http = http
        self.mic = Microphone()
        self._connected = asyncio.Event()
        self._lost = asyncio.Event()
        self._reader: asyncio.Task | None = None
        self._last_voiced_at: float | None = None
        self._silent_since: float | None = None
        self._in_answer = False
        #: Silent frames inside an answer, timed once voice resumes (dropped if it does not).
        self._pending: list[tuple[float, float]] = []

    # -- public ---------------------------------------------------------------------------
    async def run(self) -> CallResult:
        r = self.result
        r.started_at = time.monotonic()
        pc: RTCPeerConnection | None = None
        try:
            pc = RTCPeerConnection(RTCConfiguration(iceServers=await self._ice_servers()))
            await self._call(pc)
        except Exception as exc:  # every failure is a recorded error, never a crash
            r.errors.append(f"{type(exc).__name__}: {exc}"[:300])
        finally:
            self._hanging_up = True
            if self._reader is not None:
                self._reader.cancel()
                await asyncio.gather(self._reader, return_exceptions=True)
            if pc is not None:
                with contextlib.suppress(Exception):
                    await pc.close()
            if self.mic.clock is not None:
                r.sender_lags = self.mic.clock.lags
        r.ended_at = time.monotonic()
        return r

    # -- signalling and media -------------------------------------------------------------
    async def _ice_servers(self) -> list[RTCIceServer]:
        """The STUN/TURN servers the server hands browsers (none on loopback by default)."""
        headers = {"Authorization": f"Bearer {self.webrtc.api_key}"}
        resp = await self.http.get(self.webrtc.ice_servers_url, headers=headers)
        if resp.status_code != 200:
            raise StreamError(f"ice-servers answered {resp.status_code}: {resp.text[:200]}")
        return [
            RTCIceServer(urls=s["urls"], username=s.get("username"), credential=s.get("credential"))
            for s in resp.json().get("ice_servers", [])
        ]

    async def _call(self, pc: RTCPeerConnection) -> None:
        pc.addTransceiver(self.mic, direction="sendrecv")
        pc.createDataChannel("chat")

        @pc.on("connectionstatechange")
        def _on_state() -> None:
            if pc.connectionState == "connected":
                self._connected.set()
            elif pc.connectionState in ("failed", "closed") and not self._hanging_up:
                self._lost.set()

        @pc.on("track")
        def _on_track(track: MediaStreamTrack) -> None:
            if track.kind == "audio" and self._reader is None:
                self._reader = asyncio.create_task(self._read(track))

        await pc.setLocalDescription(await pc.createOffer())  # aiortc gathers ICE here
        body = {
            "sdp": pc.localDescription.sdp,
            "type": pc.localDescription.type,
            "workflow_id": self.webrtc.workflow_id,
            "test": self.webrtc.test,
        }
        headers = {"Authorization": f"Bearer {self.webrtc.api_key}"}
        t0 = time.monotonic()
        resp = await self.http.post(self.webrtc.offer_url, json=body, headers=headers)
        self.result.webhook_seconds = time.monotonic() - t0
        if resp.status_code != 200:
            raise StreamError(f"offer answered {resp.status_code}: {resp.text[:200]}")
        answer = resp.json()
        self.result.call_sid = str(answer.get("call_id", ""))
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type=answer["type"]))
        try:
            await asyncio.wait_for(self._connected.wait(), CONNECT_TIMEOUT)
        except TimeoutError:
            raise StreamError(f"peer connection not connected ({pc.connectionState})") from None
        start = time.monotonic()
        self.result.connect_seconds = start - t0
        self.result.timeline.on_stream_start(start)
        script = asyncio.create_task(self._script(start))
        lost = asyncio.create_task(self._lost.wait())
        try:
            await asyncio.wait({script, lost}, return_when=asyncio.FIRST_COMPLETED)
            if not script.done():
                raise StreamError("peer connection lost mid-call")
            script.result()
        finally:
            for task in (script, lost):
                task.cancel()
            await asyncio.gather(script, lost, return_exceptions=True)

    async def _read(self, track: MediaStreamTrack) -> None:
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                if not self._hanging_up:
                    self._lost.set()
                return
            self._on_frame(time.monotonic(), frame.samples / frame.sample_rate, frame_voiced(frame))

    def _on_frame(self, now: float, duration: float, voiced: bool) -> None:
        """Time one decoded bot frame. Only answers are bot audio: from a first voiced frame
        to the last voiced one before ``script.quiet`` of silence (pauses inside an answer
        count once voice resumes); the silence the track streams between answers does not."""
        timeline = self.result.timeline
        pending = self._pending
        if voiced:
            self._last_voiced_at = now
            self._silent_since = None
        elif self._silent_since is None:
            self._silent_since = now
        if self._awaiting_clear:
            if self._silent_since is not None and now - self._silent_since >= BARGE_IN_GAP:
                # the interrupted answer stopped: what the server's ``clear`` would have said
                self._awaiting_clear = False
                if self._in_answer:
                    timeline.on_clear(now)
                    self._end_answer()
            answer_voice = False  # audio of the interrupted answer, not the new one
        else:
            answer_voice = voiced
        if not self._in_answer:
            if voiced:
                self._in_answer = True
                timeline.on_bot_audio(now, duration, answer_voice)
        elif voiced:
            for at, d in pending:
                timeline.on_bot_audio(at, d, False)
            pending.clear()
            timeline.on_bot_audio(now, duration, answer_voice)
        else:
            pending.append((now, duration))
            if self._last_voiced_at is not None and now - self._last_voiced_at >= self.script.quiet:
                self._end_answer()

    def _end_answer(self) -> None:
        self._in_answer = False
        self._pending.clear()
        self.result.timeline.on_utterance_end()

    # -- hooks of the scripted dialogue ---------------------------------------------------
    def _bot_idle(self, now: float) -> bool:
        # The track never stops (silence between answers): quiet means no voiced frame lately.
        last = self._last_voiced_at
        return last is not None and now - last >= self.script.quiet

    async def _speak(self, text: str) -> float:
        done: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self.mic.say(pcm_utterance(text, self.mic.rate), done)
        return await done
