"""Emulated inbound callers for Telnyx, Plivo, Vonage and Exotel: each signs its voice
webhook the way the carrier documents, follows the carrier's markup to the media websocket
and speaks the carrier's media protocol in real time (20 ms frames).
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import json
import time
import uuid
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)
from websockets.asyncio.client import ClientConnection, connect

from loadgen.audio import frames, pcm_to_ulaw, ulaw_to_pcm
from loadgen.callers.media import RealtimeMediaSocket, voiced_seconds
from loadgen.signing import plivo_v3
from loadgen.speech import speech_pcm


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@functools.lru_cache(maxsize=1)
def _vonage_keys() -> tuple[str, str]:
    """An RSA key pair (PEM private, PEM public) for the Vonage application JWTs."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()).decode()
    public = key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()
    return private, public


def vonage_rest_credentials() -> dict[str, str]:
    """What the fake Vonage API checks application JWTs with."""
    return {"application_id": "app-vonage-1", "public_key": _vonage_keys()[1], **VONAGE_ACCOUNT_KEY}


# the account API key and secret (Vonage's Numbers API authenticates with them)
VONAGE_ACCOUNT_KEY = {"api_key": "vonage-key", "api_secret": "vonage-secret"}


def _xml(text: str) -> ET.Element:
    return ET.fromstring(text)  # noqa: S314 - markup from the server under test


@dataclass
class CarrierCaller:
    """Base: subclasses define the carrier's signature, markup and media messages."""

    carrier: str
    public_url: str
    server_url: str
    rate: int = 8000
    credentials: dict[str, str] = field(default_factory=dict)
    call_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    stream_id: str = field(default_factory=lambda: "st-" + uuid.uuid4().hex[:12])

    # -- webhook ----------------------------------------------------------------------------
    def webhook(self, to: str, from_: str, *, forge: bool = False) -> dict[str, Any]:
        """httpx request kwargs (method, url, headers, content/params)."""
        raise NotImplementedError

    def stream_target(self, response: httpx.Response) -> tuple[str, dict[str, str]]:
        """(public websocket URL, headers the carrier would send in the handshake)."""
        raise NotImplementedError

    # -- media ----------------------------------------------------------------------------
    def handshake(self, headers: dict[str, str]) -> list[str]:
        raise NotImplementedError

    def media(self, pcm20ms: bytes, index: int) -> str | bytes:
        raise NotImplementedError

    def parse_bot(self, message: str | bytes) -> tuple[str, bytes]:
        """("audio", pcm at self.rate) | ("clear", b"") | ("other", b"")."""
        raise NotImplementedError

    def voice_url(self) -> str:
        return f"{self.public_url}/telephony/{self.carrier}/voice"

    def loopback(self, url: str) -> str:
        host = self.public_url.split("://", 1)[1]
        path = url.split(host, 1)[1]
        base = self.server_url if url.startswith("http") else "ws" + self.server_url[4:]
        return base + path


class TelnyxCaller(CarrierCaller):
    @staticmethod
    def rest_credentials() -> dict[str, str]:
        return {"api_key": "KEY_test", "connection_id": "conn-1"}

    def __init__(self, **kw: Any) -> None:
        super().__init__(carrier="telnyx", **kw)
        self.key = Ed25519PrivateKey.generate()
        public = self.key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.credentials = {**self.rest_credentials(),
                            "public_key": base64.b64encode(public).decode()}  # fmt: skip
        self.call_id = "v3:" + uuid.uuid4().hex

    def webhook(self, to: str, from_: str, *, forge: bool = False) -> dict[str, Any]:
        body = urlencode({"CallSid": self.call_id, "From": from_, "To": to,
                          "Direction": "inbound", "AccountSid": "acc"}).encode()  # fmt: skip
        ts = str(int(time.time()))
        key = Ed25519PrivateKey.generate() if forge else self.key
        sig = base64.b64encode(key.sign(ts.encode() + b"|" + body)).decode()
        headers = {"telnyx-signature-ed25519": sig, "telnyx-timestamp": ts,
                   "content-type": "application/x-www-form-urlencoded"}  # fmt: skip
        return {"method": "POST", "url": self.voice_url(), "headers": headers, "content": body}

    def stream_target(self, response: httpx.Response) -> tuple[str, dict[str, str]]:
        stream = _xml(response.text).find("./Connect/Stream")
        assert stream is not None, response.text
        return stream.get("url", ""), {}

    def handshake(self, headers: dict[str, str]) -> list[str]:
        return [json.dumps({"event": "connected", "version": "1.0.0"}),
                json.dumps({"event": "start", "sequence_number": "1", "stream_id": self.stream_id,
                            "start": {"call_control_id": self.call_id,
                                      "media_format": {"encoding": "PCMU", "sample_rate": 8000,
                                                       "channels": 1}}})]  # fmt: skip

    def media(self, pcm20ms: bytes, index: int) -> str:
        return json.dumps({"event": "media", "stream_id": self.stream_id, "media": {
            "track": "inbound", "chunk": str(index), "timestamp": str(index * 20),
            "payload": base64.b64encode(pcm_to_ulaw(pcm20ms)).decode()}})  # fmt: skip

    def parse_bot(self, message: str | bytes) -> tuple[str, bytes]:
        data = json.loads(message)
        if data.get("event") == "media":
            return "audio", ulaw_to_pcm(base64.b64decode(data["media"]["payload"]))
        return ("clear", b"") if data.get("event") == "clear" else ("other", b"")


class PlivoCaller(CarrierCaller):
    def __init__(self, **kw: Any) -> None:
        super().__init__(carrier="plivo", **kw)
        self.credentials = self.rest_credentials()

    @staticmethod
    def rest_credentials() -> dict[str, str]:
        return {"auth_id": "MA" + "1" * 18, "auth_token": "plivo-token"}

    def webhook(self, to: str, from_: str, *, forge: bool = False) -> dict[str, Any]:
        params = {"CallUUID": self.call_id, "From": from_.lstrip("+"), "To": to.lstrip("+"),
                  "Direction": "inbound", "CallStatus": "ringing"}  # fmt: skip
        return self.signed_post(self.voice_url(), params, forge=forge)

    def signed_post(self, url: str, params: dict[str, str], *, forge: bool = False) -> dict[str, Any]:
        nonce = str(uuid.uuid4().int % 10**20)
        token = "forged" if forge else self.credentials["auth_token"]
        headers = {"X-Plivo-Signature-V3": plivo_v3(token, url, params, nonce),
                   "X-Plivo-Signature-V3-Nonce": nonce}  # fmt: skip
        return {"method": "POST", "url": url, "headers": headers, "data": params}

    def stream_target(self, response: httpx.Response) -> tuple[str, dict[str, str]]:
        stream = _xml(response.text).find("Stream")
        assert stream is not None and stream.get("bidirectional") == "true", response.text
        return (stream.text or "").strip(), {}

    def handshake(self, headers: dict[str, str]) -> list[str]:
        return [json.dumps({"event": "start", "sequenceNumber": 0, "start": {
            "callId": self.call_id, "streamId": self.stream_id, "accountId": "MA1",
            "tracks": ["inbound"], "mediaFormat": {"encoding": "audio/x-mulaw",
                                                   "sampleRate": 8000}}})]  # fmt: skip

    def media(self, pcm20ms: bytes, index: int) -> str:
        return json.dumps({"event": "media", "sequenceNumber": index, "streamId": self.stream_id,
                           "media": {"track": "inbound", "timestamp": str(index * 20),
                                     "chunk": index, "payload": _b64(pcm_to_ulaw(pcm20ms))}})  # fmt: skip

    def parse_bot(self, message: str | bytes) -> tuple[str, bytes]:
        data = json.loads(message)
        if data.get("event") == "playAudio":
            return "audio", ulaw_to_pcm(base64.b64decode(data["media"]["payload"]))
        return ("clear", b"") if data.get("event") == "clearAudio" else ("other", b"")


class VonageCaller(CarrierCaller):
    def __init__(self, **kw: Any) -> None:
        super().__init__(carrier="vonage", rate=16000, **kw)
        self.credentials = self.rest_credentials()

    @staticmethod
    def rest_credentials() -> dict[str, str]:
        private, _ = _vonage_keys()
        return {"application_id": "app-vonage-1", "private_key": private,
                "signature_secret": "vonage-signature-secret-0123456789", **VONAGE_ACCOUNT_KEY}  # fmt: skip

    def webhook(self, to: str, from_: str, *, forge: bool = False) -> dict[str, Any]:
        return self.signed_post(self.voice_url(), {
            "uuid": self.call_id, "conversation_uuid": "CON-" + self.call_id,
            "from": from_.lstrip("+"), "to": to.lstrip("+")}, forge=forge)  # fmt: skip

    def signed_post(self, url: str, payload: dict[str, Any], *, forge: bool = False) -> dict[str, Any]:
        body = json.dumps(payload).encode()
        claims = {"iat": int(time.time()), "jti": uuid.uuid4().hex, "iss": "Vonage",
                  "payload_hash": hashlib.sha256(body).hexdigest()}  # fmt: skip
        secret = "forged-secret-forged-secret-000000" if forge else self.credentials["signature_secret"]
        headers = {"Authorization": "Bearer " + jwt.encode(claims, secret, algorithm="HS256"),
                   "content-type": "application/json"}  # fmt: skip
        return {"method": "POST", "url": url, "headers": headers, "content": body}

    def stream_target(self, response: httpx.Response) -> tuple[str, dict[str, str]]:
        endpoint = response.json()[0]["endpoint"][0]
        assert endpoint["type"] == "websocket" and endpoint["content-type"] == "audio/l16;rate=16000"
        return endpoint["uri"], endpoint["headers"]

    def handshake(self, headers: dict[str, str]) -> list[str]:
        return [json.dumps({"event": "websocket:connected",
                            "content-type": "audio/l16;rate=16000", **headers})]  # fmt: skip

    def media(self, pcm20ms: bytes, index: int) -> bytes:
        return pcm20ms

    def parse_bot(self, message: str | bytes) -> tuple[str, bytes]:
        if isinstance(message, bytes):
            return "audio", message
        data = json.loads(message)
        return ("clear", b"") if data.get("action") == "clear" else ("other", b"")


class ExotelCaller(CarrierCaller):
    def __init__(self, **kw: Any) -> None:
        super().__init__(carrier="exotel", **kw)
        self.credentials = self.rest_credentials()

    @staticmethod
    def rest_credentials() -> dict[str, str]:
        return {"account_sid": "exoacct", "api_key": "exo-key", "api_token": "exo-tok",
                "app_id": "42"}  # fmt: skip

    def webhook(self, to: str, from_: str, *, forge: bool = False) -> dict[str, Any]:
        token = "wrong" if forge else self.credentials["api_token"]
        return {"method": "GET", "url": self.voice_url(),
                "params": {"CallSid": self.call_id, "CallFrom": from_, "CallTo": to},
                "auth": (self.credentials["api_key"], token)}  # fmt: skip

    def stream_target(self, response: httpx.Response) -> tuple[str, dict[str, str]]:
        return response.json()["url"], {}

    def handshake(self, headers: dict[str, str]) -> list[str]:
        return [json.dumps({"event": "connected"}),
                json.dumps({"event": "start", "sequence_number": 1, "stream_sid": self.stream_id,
                            "start": {"stream_sid": self.stream_id, "call_sid": self.call_id,
                                      "account_sid": "exoacct", "custom_parameters": {},
                                      "media_format": {"encoding": "base64",
                                                       "sample_rate": "8000",
                                                       "bit_rate": "128kbps"}}})]  # fmt: skip

    def media(self, pcm20ms: bytes, index: int) -> str:
        return json.dumps({"event": "media", "sequence_number": index + 2,
                           "stream_sid": self.stream_id,
                           "media": {"chunk": index, "timestamp": str(index * 20),
                                     "payload": base64.b64encode(pcm20ms).decode()}})  # fmt: skip

    def parse_bot(self, message: str | bytes) -> tuple[str, bytes]:
        data = json.loads(message)
        if data.get("event") == "media":
            return "audio", base64.b64decode(data["media"]["payload"])
        return ("clear", b"") if data.get("event") == "clear" else ("other", b"")


CALLERS: dict[str, type[CarrierCaller]] = {
    "telnyx": TelnyxCaller, "plivo": PlivoCaller, "vonage": VonageCaller, "exotel": ExotelCaller,
}  # fmt: skip


class CarrierStream(RealtimeMediaSocket):
    """A live media websocket driven in real time by a ``CarrierCaller``."""

    def __init__(self, caller: CarrierCaller, ws: ClientConnection) -> None:
        super().__init__(ws)
        self.caller = caller
        self.bot = bytearray()  # bot PCM at caller.rate
        self.bot_message_ms: Counter[int] = Counter()  # bot audio messages by the audio they hold
        self.clears: list[float] = []
        self._speech: list[bytes] = []
        self._silence = bytes(caller.rate // 50 * 2)

    @classmethod
    async def open(cls, caller: CarrierCaller, url: str, headers: dict[str, str]) -> CarrierStream:
        ws = await connect(caller.loopback(url), max_size=2**20)
        stream = cls(caller, ws)
        for message in caller.handshake(headers):
            await ws.send(message)
        stream._start_tasks()
        return stream

    async def say(self, text: str) -> None:
        """Queue ``text`` as speech (synthesized off the loop, which paces the audio)."""
        pcm = await asyncio.to_thread(speech_pcm, text, self.caller.rate)
        self._speech.extend(frames(pcm, self.caller.rate))

    async def wait_for_bot_speech(self, seconds: float, timeout: float = 20) -> None:
        mark = len(self.bot)

        async def voiced() -> None:
            while voiced_seconds(bytes(self.bot[mark:]), self.caller.rate) < seconds:
                await asyncio.sleep(0.05)

        await asyncio.wait_for(voiced(), timeout)

    def _next_message(self, index: int) -> str | bytes:
        return self.caller.media(self._speech.pop(0) if self._speech else self._silence, index)

    async def _on_message(self, message: str | bytes) -> None:
        kind, pcm = self.caller.parse_bot(message)
        if kind == "audio":
            self.bot.extend(pcm)
            self.bot_message_ms[len(pcm) * 500 // self.caller.rate] += 1  # 2 bytes a sample
        elif kind == "clear":
            self.clears.append(time.monotonic())
