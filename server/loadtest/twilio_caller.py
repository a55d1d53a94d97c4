"""One scripted caller speaking Twilio's voice webhook and media-stream protocol.

The call: POST the signed voice webhook, read the TwiML ``<Connect><Stream>``, open the media
websocket, send ``connected`` and ``start`` (with the TwiML ``<Parameter>``s), then stream
20 ms μ-law ``media`` frames in real time for the whole call: speech when the script speaks,
silence otherwise. Bot ``media`` is timed into a :class:`CallTimeline`, ``mark``s are echoed
when the audio before them has played out, and ``clear`` resets the playout clock.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import random
import time
import uuid
import xml.etree.ElementTree as ET  # noqa: S405  (parses TwiML from the server under test)
from collections import deque
from dataclasses import dataclass, field

import httpx
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from server.loadtest.audio import DEFAULT_LINES, SAMPLE_RATE, SILENCE_B64, is_voiced, utterance
from server.loadtest.pacing import FrameClock
from server.loadtest.signature import twilio_signature
from server.loadtest.timeline import CallTimeline


@dataclass(frozen=True)
class CallScript:
    turns: int = 3
    lines: tuple[str, ...] = DEFAULT_LINES
    #: Silence after the bot finished speaking before the caller speaks.
    pause: float = 0.6
    #: Up to this much extra silence, random per turn (seeded by call index), so that
    #: concurrent calls do not all speak at the same instant.
    pause_jitter: float = 1.0
    #: Bot audio must have played out and been quiet this long to count as finished.
    quiet: float = 0.4
    #: Every n-th turn (1-based) the caller barges in 0.5 s into the bot's answer; 0 = never.
    barge_in_every: int = 0
    barge_in_after: float = 0.5
    greeting_timeout: float = 10.0
    response_timeout: float = 10.0
    #: Hard cap on the media-stream part of a call (seconds); None = until turns are done.
    max_duration: float | None = None
    #: Expect a greeting before the first turn (otherwise speak after ``pause``).
    expect_greeting: bool = True


@dataclass(frozen=True)
class TwilioTarget:
    base_url: str  # e.g. http://127.0.0.1:8000
    webhook_path: str = "/telephony/twilio/voice"
    auth_token: str = "loadtest-auth-token"  # noqa: S105  (a test credential, not a secret)
    account_sid: str = "AC" + "0" * 32
    from_number: str = "+15005550006"
    to_number: str = "+15005550001"
    #: The URL Twilio would sign (the server's PUBLIC_URL + path); default: the URL posted to.
    signed_url: str | None = None

    @property
    def webhook_url(self) -> str:
        return self.base_url.rstrip("/") + self.webhook_path


@dataclass
class CallResult:
    index: int
    call_sid: str
    timeline: CallTimeline = field(default_factory=CallTimeline)
    errors: list[str] = field(default_factory=list)
    webhook_seconds: float | None = None
    connect_seconds: float | None = None
    sender_lags: list[float] = field(default_factory=list)
    started_at: float = 0.0
    ended_at: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.errors


class StreamError(RuntimeError):
    pass


def parse_twiml_stream(twiml: str) -> tuple[str, dict[str, str]]:
    """The ``<Stream url>`` and its ``<Parameter>``s from a ``<Connect>`` TwiML document."""
    root = ET.fromstring(twiml)  # noqa: S314
    stream = root.find("./Connect/Stream")
    if stream is None or not stream.get("url"):
        raise StreamError(f"TwiML has no <Connect><Stream url>: {twiml[:200]!r}")
    params = {p.get("name", ""): p.get("value", "") for p in stream.findall("Parameter") if p.get("name")}
    return stream.get("url", ""), params


def webhook_form(target: TwilioTarget, call_sid: str) -> dict[str, str]:
    """The form fields of an inbound-call voice webhook, as Twilio sends them."""
    return {
        "AccountSid": target.account_sid,
        "ApiVersion": "2010-04-01",
        "CallSid": call_sid,
        "CallStatus": "ringing",
        "Called": target.to_number,
        "Caller": target.from_number,
        "Direction": "inbound",
        "From": target.from_number,
        "To": target.to_number,
    }


class TwilioCaller:
    """Places one call; ``await run()`` returns its :class:`CallResult`."""

    def __init__(self, index: int, target: TwilioTarget, script: CallScript, http: httpx.AsyncClient) -> None:
        self.target = target
        self.script = script
        self.http = http
        self.result = CallResult(index=index, call_sid="CA" + uuid.uuid4().hex)
        self.stream_sid = "MZ" + uuid.uuid4().hex
        self._speech: deque[str] = deque()
        self._speech_done: asyncio.Future[float] | None = None
        self._marks: list[tuple[float, str]] = []
        self._seq = 0
        self._chunk = 0
        self._ws = None
        self._hanging_up = False
        self._awaiting_clear = False
        self._rng = random.Random(index)

    # -- public ---------------------------------------------------------------------------
    async def run(self) -> CallResult:
        r = self.result
        r.started_at = time.monotonic()
        try:
            ws_url, params = await self._webhook()
            await self._media(ws_url, params)
        except Exception as exc:  # every failure is a recorded error, never a crash
            r.errors.append(f"{type(exc).__name__}: {exc}"[:300])
        r.ended_at = time.monotonic()
        return r

    # -- webhook --------------------------------------------------------------------------
    async def _webhook(self) -> tuple[str, dict[str, str]]:
        form = webhook_form(self.target, self.result.call_sid)
        signed = self.target.signed_url or self.target.webhook_url
        headers = {"X-Twilio-Signature": twilio_signature(self.target.auth_token, signed, form)}
        t0 = time.monotonic()
        resp = await self.http.post(self.target.webhook_url, data=form, headers=headers)
        self.result.webhook_seconds = time.monotonic() - t0
        if resp.status_code != 200:
            raise StreamError(f"voice webhook answered {resp.status_code}: {resp.text[:200]}")
        return parse_twiml_stream(resp.text)

    # -- media stream ---------------------------------------------------------------------
    async def _media(self, ws_url: str, params: dict[str, str]) -> None:
        t0 = time.monotonic()
        async with connect(ws_url, compression=None, ping_interval=None, max_queue=None) as ws:
            self._ws = ws
            self.result.connect_seconds = time.monotonic() - t0
            connected = {"event": "connected", "protocol": "Call", "version": "1.0.0"}
            await ws.send(json.dumps(connected))
            await ws.send(json.dumps(self._start_message(params)))
            start = time.monotonic()
            self.result.timeline.on_stream_start(start)
            sender = asyncio.create_task(self._send_loop(start))
            receiver = asyncio.create_task(self._receive_loop())
            script = asyncio.create_task(self._script(start))
            try:
                done, _ = await asyncio.wait({sender, receiver, script}, return_when=asyncio.FIRST_COMPLETED)
                if script not in done:
                    for task in done:
                        if task.exception() is not None:
                            raise task.exception()  # type: ignore[misc]
                    raise StreamError("server closed the media stream mid-call")
                script.result()
            finally:
                self._hanging_up = True
                for task in (sender, receiver, script):
                    task.cancel()
                await asyncio.gather(sender, receiver, script, return_exceptions=True)
                with contextlib.suppress(ConnectionClosed):
                    await ws.send(self._stop_message())

    def _start_message(self, params: dict[str, str]) -> dict:
        self._seq += 1
        return {
            "event": "start",
            "sequenceNumber": str(self._seq),
            "start": {
                "accountSid": self.target.account_sid,
                "streamSid": self.stream_sid,
                "callSid": self.result.call_sid,
                "tracks": ["inbound"],
                "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
                "customParameters": params,
            },
            "streamSid": self.stream_sid,
        }

    def _stop_message(self) -> str:
        self._seq += 1
        return json.dumps(
            {
                "event": "stop",
                "sequenceNumber": str(self._seq),
                "streamSid": self.stream_sid,
                "stop": {"accountSid": self.target.account_sid, "callSid": self.result.call_sid},
            }
        )

    async def _send_loop(self, start: float) -> None:
        clock = FrameClock(start)
        ws = self._ws
        sid = self.stream_sid
        try:
            while True:
                await clock.wait_next()
                if self._marks:
                    await self._flush_marks(time.monotonic())
                payload = self._speech.popleft() if self._speech else SILENCE_B64
                self._seq += 1
                self._chunk += 1
                await ws.send(
                    f'{{"event":"media","sequenceNumber":"{self._seq}","media":{{"track":'
                    f'"inbound","chunk":"{self._chunk}","timestamp":"{self._chunk * 20}",'
                    f'"payload":"{payload}"}},"streamSid":"{sid}"}}'
                )
                clock.record_sent()
                if not self._speech and self._speech_done is not None:
                    self._speech_done.set_result(time.monotonic())
                    self._speech_done = None
        finally:
            self.result.sender_lags = clock.lags

    async def _flush_marks(self, now: float, everything: bool = False) -> None:
        due = [m for m in self._marks if everything or m[0] <= now]
        if not due:
            return
        self._marks = [m for m in self._marks if not (everything or m[0] <= now)]
        for _, name in due:
            self._seq += 1
            await self._ws.send(
                json.dumps(
                    {
                        "event": "mark",
                        "sequenceNumber": str(self._seq),
                        "streamSid": self.stream_sid,
                        "mark": {"name": name},
                    }
                )
            )

    async def _receive_loop(self) -> None:
        timeline = self.result.timeline
        async for raw in self._ws:
            now = time.monotonic()
            msg = json.loads(raw)
            event = msg.get("event")
            if event == "media":
                ulaw = base64.b64decode(msg["media"]["payload"])
                voiced = is_voiced(ulaw) if ulaw else False
                if self._awaiting_clear:
                    voiced = False  # audio of the interrupted answer, not the new one
                timeline.on_bot_audio(now, len(ulaw) / SAMPLE_RATE, voiced)
            elif event == "mark":
                end = timeline.playout_end()
                name = (msg.get("mark") or {}).get("name", "")
                self._marks.append((end if end is not None else now, name))
            elif event == "clear":
                self._awaiting_clear = False
                timeline.on_clear(now)
                await self._flush_marks(now, everything=True)
        if not self._hanging_up:
            raise StreamError("server closed the media stream mid-call")

    # -- the scripted caller --------------------------------------------------------------
    def _bot_idle(self, now: float) -> bool:
        """The bot's answer has played out and been quiet for ``script.quiet`` seconds."""
        return self.result.timeline.bot_idle(now, self.script.quiet)

    async def _speak(self, text: str) -> float:
        """Queue an utterance; returns when its last frame was sent (that time)."""
        loop = asyncio.get_running_loop()
        self._speech_done = loop.create_future()
        done = self._speech_done
        self._speech.extend(utterance(text).frames_b64)
        return await done

    async def _wait(self, predicate, limit: float, what: str) -> None:
        deadline = time.monotonic() + limit
        while not predicate():
            if time.monotonic() > deadline:
                raise StreamError(f"timed out waiting for {what}")
            await asyncio.sleep(0.02)

    async def _script(self, start: float) -> None:
        s = self.script
        timeline = self.result.timeline
        end_at = start + s.max_duration if s.max_duration else None

        def bot_done() -> bool:
            return self._bot_idle(time.monotonic())

        if s.expect_greeting:
            await self._wait(
                lambda: timeline.first_bot_audio_at is not None, s.greeting_timeout, "the greeting"
            )
            await self._wait(bot_done, s.greeting_timeout + 30, "the greeting to end")
        barge_in_next = False
        for k in range(s.turns):
            if end_at and time.monotonic() >= end_at:
                break
            if not barge_in_next:
                await asyncio.sleep(s.pause + self._rng.uniform(0.0, s.pause_jitter))
            line = s.lines[k % len(s.lines)]
            if barge_in_next:
                self._awaiting_clear = True
            ended = await self._speak(line)
            timeline.on_caller_speech_end(ended, barge_in=barge_in_next)
            turn = timeline.turns[-1]
            await self._wait(
                lambda t=turn: t.response_at is not None,
                s.response_timeout,
                f"the answer to turn {k + 1}",
            )
            barge_in_next = bool(s.barge_in_every) and (k + 1) % s.barge_in_every == 0
            barge_in_next = barge_in_next and k + 1 < s.turns
            if barge_in_next:
                await asyncio.sleep(s.barge_in_after)
            else:
                await self._wait(bot_done, s.response_timeout + 60, f"the end of answer {k + 1}")
