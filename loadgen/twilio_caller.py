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
import time
from collections import deque

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from loadgen.audio import ULAW_SILENCE, ulaw_peak
from loadgen.pacing import FrameClock
from loadgen.script import CallResult, CallScript, ScriptedCaller, StreamError
from loadgen.signing import twilio_signature
from loadgen.speech import VOICED_PEAK, utterance
from loadgen.targets import TwilioTarget
from loadgen.twilio_protocol import StreamMessages, new_call_sid, parse_twiml_stream, webhook_form

SAMPLE_RATE = 8000
SILENCE_B64 = base64.b64encode(bytes([ULAW_SILENCE]) * 160).decode()  # 20 ms


class TwilioLoadCaller(ScriptedCaller):
    """Places one Twilio-like call; ``await run()`` returns its :class:`CallResult`."""

    def __init__(self, index: int, target: TwilioTarget, script: CallScript, http: httpx.AsyncClient) -> None:
        super().__init__(index, script, call_sid=new_call_sid())
        self.target = target
        self.http = http
        self.messages = StreamMessages(target.account_sid, self.result.call_sid)
        self._speech: deque[str] = deque()
        self._speech_done: asyncio.Future[float] | None = None
        self._marks: list[tuple[float, str]] = []
        self._ws: ClientConnection | None = None

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
        t = self.target
        form = webhook_form(t.account_sid, t.to_number, t.from_number, self.result.call_sid)
        headers = {"X-Twilio-Signature": twilio_signature(t.auth_token, t.signed_url or t.webhook_url, form)}
        t0 = time.monotonic()
        resp = await self.http.post(t.webhook_url, data=form, headers=headers)
        self.result.webhook_seconds = time.monotonic() - t0
        if resp.status_code != 200:
            raise StreamError(f"voice webhook answered {resp.status_code}: {resp.text[:200]}")
        try:
            return parse_twiml_stream(resp.text)
        except ValueError as exc:
            raise StreamError(str(exc)) from None

    # -- media stream ---------------------------------------------------------------------
    async def _media(self, ws_url: str, params: dict[str, str]) -> None:
        t0 = time.monotonic()
        async with connect(ws_url, compression=None, ping_interval=None, max_queue=None) as ws:
            self._ws = ws
            self.result.connect_seconds = time.monotonic() - t0
            await ws.send(self.messages.connected())
            await ws.send(self.messages.start(params))
            start = time.monotonic()
            self.result.timeline.on_stream_start(start)
            sender = asyncio.create_task(self._send_loop(ws, start))
            receiver = asyncio.create_task(self._receive_loop(ws))
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
                    await ws.send(self.messages.stop())

    async def _send_loop(self, ws: ClientConnection, start: float) -> None:
        clock = FrameClock(start)
        media = self.messages.media
        try:
            while True:
                await clock.wait_next()
                if self._marks:
                    await self._flush_marks(ws, time.monotonic())
                await ws.send(media(self._speech.popleft() if self._speech else SILENCE_B64))
                clock.record_sent()
                if not self._speech and self._speech_done is not None:
                    self._speech_done.set_result(time.monotonic())
                    self._speech_done = None
        finally:
            self.result.sender_lags = clock.lags

    async def _flush_marks(self, ws: ClientConnection, now: float, everything: bool = False) -> None:
        due = [m for m in self._marks if everything or m[0] <= now]
        if not due:
            return
        self._marks = [m for m in self._marks if not (everything or m[0] <= now)]
        for _, name in due:
            await ws.send(self.messages.mark(name))

    async def _receive_loop(self, ws: ClientConnection) -> None:
        timeline = self.result.timeline
        async for raw in ws:
            now = time.monotonic()
            msg = json.loads(raw)
            event = msg.get("event")
            if event == "media":
                ulaw = base64.b64decode(msg["media"]["payload"])
                # while a barge-in waits for its clear, audio is the interrupted answer's
                voiced = not self._awaiting_clear and ulaw_peak(ulaw) >= VOICED_PEAK
                timeline.on_bot_audio(now, len(ulaw) / SAMPLE_RATE, voiced)
            elif event == "mark":
                end = timeline.playout_end()
                name = (msg.get("mark") or {}).get("name", "")
                self._marks.append((end if end is not None else now, name))
            elif event == "clear":
                self._awaiting_clear = False
                timeline.on_clear(now)
                await self._flush_marks(ws, now, everything=True)
        if not self._hanging_up:
            raise StreamError("server closed the media stream mid-call")

    # -- hooks of the scripted dialogue ---------------------------------------------------
    def _bot_idle(self, now: float) -> bool:
        return self.result.timeline.bot_idle(now, self.script.quiet)

    async def _speak(self, text: str) -> float:
        done: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._speech_done = done
        self._speech.extend(utterance(text).frames_b64)
        return await done
