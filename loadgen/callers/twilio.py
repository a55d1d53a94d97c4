"""A Twilio emulator for end-to-end tests: what Twilio does on a real phone call.

- ``voice_webhook``/``signed_post``: POST form webhooks signed with ``X-Twilio-Signature``
  exactly as Twilio does (HMAC-SHA1 over the URL Twilio was configured with, i.e. the
  server's PUBLIC_URL, plus the sorted form fields), to the server's real loopback address
  (as a tunnel or proxy would deliver them).
- ``MediaStream``: follows the TwiML ``<Connect><Stream>`` to the websocket (mapping the
  public URL to the loopback one), sends ``connected`` and ``start`` with the
  ``<Parameter>``s, then streams 20 ms μ-law ``media`` frames in real time for the whole
  call (speech when ``say`` queued some, silence otherwise). Bot ``media`` is collected and
  "played out" at real-time pace; ``mark``s are echoed once the audio before them has
  played; ``clear`` drops unplayed audio and is recorded.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import time
from collections import Counter
from dataclasses import dataclass, field

import httpx
from websockets.asyncio.client import ClientConnection, connect

from loadgen.audio import ULAW_SILENCE, frames, pcm_to_ulaw, ulaw_to_pcm
from loadgen.callers.media import RealtimeMediaSocket, voiced_seconds
from loadgen.signing import twilio_signature
from loadgen.speech import speech_pcm
from loadgen.twilio_protocol import (
    StreamMessages,
    new_call_sid,
    parse_twiml,
    parse_twiml_stream,
    webhook_form,
)

__all__ = ["MediaStream", "TwilioEmulator", "parse_twiml", "stream_of", "twilio_signature"]

RATE = 8000
SILENCE = bytes([ULAW_SILENCE]) * 160  # 20 ms of 8 kHz μ-law


@dataclass
class TwilioEmulator:
    server_url: str  # where requests really go (loopback)
    public_url: str  # what the server's PUBLIC_URL says (what Twilio signs)
    account_sid: str
    auth_token: str
    http: httpx.AsyncClient = field(default_factory=lambda: httpx.AsyncClient(timeout=30))

    def to_loopback(self, url: str) -> str:
        """Map a public http(s)/ws(s) URL onto the server's loopback address."""
        public = self.public_url.rstrip("/")
        for scheme_from, scheme_to in (("https", "http"), ("wss", "ws"), ("http", "http")):
            prefix = scheme_from + public[public.index(":") :]
            if url.startswith(prefix):
                base = self.server_url.rstrip("/")
                if scheme_to == "ws":
                    base = "ws" + base[base.index(":") :]
                return base + url[len(prefix) :]
        raise AssertionError(f"{url} is not under PUBLIC_URL {self.public_url}")

    async def signed_post(
        self, public_url: str, form: dict[str, str], *, token: str | None = None
    ) -> httpx.Response:
        signature = twilio_signature(token or self.auth_token, public_url, form)
        return await self.http.post(
            self.to_loopback(public_url), data=form, headers={"X-Twilio-Signature": signature}
        )

    def voice_form(self, to: str, from_: str, call_sid: str | None = None) -> dict[str, str]:
        return webhook_form(self.account_sid, to, from_, call_sid or new_call_sid())

    async def voice_webhook(
        self, to: str, from_: str, *, call_sid: str | None = None, token: str | None = None
    ) -> httpx.Response:
        url = self.public_url.rstrip("/") + "/telephony/twilio/voice"
        return await self.signed_post(url, self.voice_form(to, from_, call_sid), token=token)

    async def aclose(self) -> None:
        await self.http.aclose()


def stream_of(twiml: str) -> tuple[str, dict[str, str]]:
    """The media websocket URL and ``<Parameter>``s of a ``<Connect><Stream>`` answer."""
    return parse_twiml_stream(twiml)


class MediaStream(RealtimeMediaSocket):
    """One Twilio Media Streams websocket, driven in real time."""

    def __init__(self, ws: ClientConnection, messages: StreamMessages) -> None:
        super().__init__(ws)
        self.messages = messages
        self.call_sid = messages.call_sid
        self.stream_sid = messages.stream_sid
        self._speech: list[bytes] = []  # queued mu-law frames to send
        self._sent_speech = asyncio.Event()
        self.bot_audio = bytearray()  # every bot mu-law byte received
        self.bot_message_ms: Counter[int] = Counter()  # bot media messages by the audio they hold
        self._playout_until = 0.0  # monotonic time the queued bot audio finishes playing
        self._pending_marks: list[tuple[float, str]] = []
        self.clears: list[float] = []
        self.marks_echoed: list[str] = []
        self.first_media_at: float | None = None
        self.started_at = 0.0
        self.closed = asyncio.Event()
        self.close_code: int | None = None

    @classmethod
    async def open(cls, ws_url: str, params: dict[str, str], call_sid: str, account_sid: str) -> MediaStream:
        ws = await connect(ws_url, max_size=2**20)
        stream = cls(ws, StreamMessages(account_sid, call_sid))
        await ws.send(stream.messages.connected())
        await ws.send(stream.messages.start(params))
        stream.started_at = time.monotonic()
        stream._start_tasks()
        return stream

    # -- caller side ----------------------------------------------------------------------
    async def say(self, text: str, *, wait: bool = True, voice: str | None = None,
                  rate_wpm: int | None = None) -> None:
        """Queue ``text`` as real speech (espeak-ng), sent at real-time pace; ``voice`` and
        ``rate_wpm`` pick another espeak voice/speed than the caller's default."""
        options = {k: v for k, v in (("voice", voice), ("rate_wpm", rate_wpm)) if v is not None}
        # synthesized off the loop: espeak's process-wide lock may be held by a server's
        # text-to-speech in the same process (tests), and the loop paces every caller's audio
        pcm = await asyncio.to_thread(speech_pcm, text, RATE, **options)  # the caller's voice
        ulaw = pcm_to_ulaw(pcm)
        self._sent_speech.clear()
        self._speech.extend(frames(ulaw, RATE, sample_width=1))
        if wait:
            await asyncio.wait_for(self._sent_speech.wait(), 60)

    async def send_raw(self, message: str | bytes) -> None:
        await self.ws.send(message)

    async def dtmf(self, digit: str) -> None:
        await self.ws.send(self.messages.dtmf(digit))

    async def stop(self) -> None:
        """Twilio's ``stop`` (the caller hung up), then the socket closes."""
        with contextlib.suppress(Exception):
            await self.ws.send(self.messages.stop())
        await self.close()

    # -- observations ---------------------------------------------------------------------
    def bot_pcm(self, start: int = 0) -> bytes:
        return ulaw_to_pcm(bytes(self.bot_audio[start:]))

    async def wait_for_bot_speech(self, seconds: float, timeout: float = 20) -> bytes:
        """Wait until at least ``seconds`` of voiced bot audio arrived after now."""
        mark = len(self.bot_audio)

        async def voiced() -> bytes:
            while True:
                pcm = self.bot_pcm(mark)
                if voiced_seconds(pcm, RATE) >= seconds:
                    return pcm
                await asyncio.sleep(0.05)

        return await asyncio.wait_for(voiced(), timeout)

    async def wait_bot_quiet(self, quiet: float = 0.6, timeout: float = 30) -> None:
        """Wait until no bot audio arrived for ``quiet`` seconds and playout finished."""

        async def idle() -> None:
            last_len, last_change = len(self.bot_audio), time.monotonic()
            while True:
                await asyncio.sleep(0.05)
                now = time.monotonic()
                if len(self.bot_audio) != last_len:
                    last_len, last_change = len(self.bot_audio), now
                if now - last_change >= quiet and now >= self._playout_until:
                    return

        await asyncio.wait_for(idle(), timeout)

    async def wait_for_clear(self, after: float, timeout: float = 20) -> float:
        async def cleared() -> float:
            while True:
                for at in self.clears:
                    if at >= after:
                        return at
                await asyncio.sleep(0.02)

        return await asyncio.wait_for(cleared(), timeout)

    # -- the media socket ------------------------------------------------------------------
    def _next_message(self, index: int) -> str:
        frame = self._speech.pop(0) if self._speech else SILENCE
        if not self._speech:
            self._sent_speech.set()
        return self.messages.media(base64.b64encode(frame).decode())

    async def _after_send(self) -> None:
        """Echo each ``mark`` once the bot audio before it has played."""
        now = time.monotonic()
        while self._pending_marks and self._pending_marks[0][0] <= now:
            _, name = self._pending_marks.pop(0)
            self.marks_echoed.append(name)
            await self.ws.send(self.messages.mark(name))

    async def _on_message(self, raw: str | bytes) -> None:
        message = json.loads(raw)
        event = message.get("event")
        now = time.monotonic()
        if event == "media":
            assert message.get("streamSid") == self.stream_sid
            payload = base64.b64decode(message["media"]["payload"])
            if self.first_media_at is None:
                self.first_media_at = now
            self.bot_audio.extend(payload)
            self.bot_message_ms[len(payload) * 1000 // RATE] += 1
            self._playout_until = max(self._playout_until, now) + len(payload) / RATE
        elif event == "mark":
            self._pending_marks.append((max(self._playout_until, now), message["mark"]["name"]))
        elif event == "clear":
            self.clears.append(now)
            self._playout_until = now
            self._pending_marks = [(now, n) for _, n in self._pending_marks]

    def _on_closed(self) -> None:
        self.close_code = self.ws.close_code
        self.closed.set()
