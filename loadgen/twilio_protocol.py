"""Twilio's side of a phone call, as messages: the voice webhook's form, the TwiML it answers
with, and the media-stream websocket messages Twilio sends.

Shared by the load generator's measuring caller (:mod:`loadgen.twilio_caller`) and the
interactive emulator the end-to-end tests drive (:mod:`loadgen.callers.twilio`).
"""

from __future__ import annotations

import json
import uuid
import xml.etree.ElementTree as ET  # noqa: S405  (parses TwiML from the server under test)

MEDIA_FORMAT = {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}


def new_call_sid() -> str:
    return "CA" + uuid.uuid4().hex


def webhook_form(account_sid: str, to: str, from_: str, call_sid: str) -> dict[str, str]:
    """The form fields of an inbound-call voice webhook, as Twilio sends them."""
    return {
        "AccountSid": account_sid,
        "ApiVersion": "2010-04-01",
        "CallSid": call_sid,
        "CallStatus": "ringing",
        "Called": to,
        "Caller": from_,
        "Direction": "inbound",
        "From": from_,
        "To": to,
    }


def parse_twiml(text: str) -> ET.Element:
    return ET.fromstring(text)  # noqa: S314  (TwiML from the server under test)


def parse_twiml_stream(twiml: str) -> tuple[str, dict[str, str]]:
    """The ``<Stream url>`` and its ``<Parameter>``s from a ``<Connect>`` TwiML document;
    ``ValueError`` when there is none."""
    stream = parse_twiml(twiml).find("./Connect/Stream")
    if stream is None or not stream.get("url"):
        raise ValueError(f"TwiML has no <Connect><Stream url>: {twiml[:200]!r}")
    params = {p.get("name", ""): p.get("value", "") for p in stream.findall("Parameter") if p.get("name")}
    return stream.get("url", ""), params


class StreamMessages:
    """The numbered messages Twilio sends on one media stream (``sequenceNumber`` and the
    media ``chunk`` count up per stream)."""

    __slots__ = ("account_sid", "call_sid", "stream_sid", "seq", "chunk")

    def __init__(self, account_sid: str, call_sid: str, stream_sid: str | None = None) -> None:
        self.account_sid = account_sid
        self.call_sid = call_sid
        self.stream_sid = stream_sid or "MZ" + uuid.uuid4().hex
        self.seq = 0
        self.chunk = 0

    def _next(self) -> str:
        self.seq += 1
        return str(self.seq)

    @staticmethod
    def connected() -> str:
        return json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"})

    def start(self, params: dict[str, str]) -> str:
        return json.dumps(
            {
                "event": "start",
                "sequenceNumber": self._next(),
                "start": {
                    "accountSid": self.account_sid,
                    "streamSid": self.stream_sid,
                    "callSid": self.call_sid,
                    "tracks": ["inbound"],
                    "mediaFormat": MEDIA_FORMAT,
                    "customParameters": params,
                },
                "streamSid": self.stream_sid,
            }
        )

    def media(self, payload_b64: str) -> str:
        """One 20 ms frame of caller audio (base64 μ-law); formatted by hand, it is per frame."""
        seq, self.chunk = self._next(), self.chunk + 1
        return (
            f'{{"event":"media","sequenceNumber":"{seq}","media":{{"track":"inbound",'
            f'"chunk":"{self.chunk}","timestamp":"{self.chunk * 20}","payload":"{payload_b64}"}},'
            f'"streamSid":"{self.stream_sid}"}}'
        )

    def mark(self, name: str) -> str:
        """The echo of a server ``mark`` once the audio before it has played."""
        seq = self._next()
        return json.dumps(
            {"event": "mark", "sequenceNumber": seq, "streamSid": self.stream_sid, "mark": {"name": name}}
        )

    def dtmf(self, digit: str) -> str:
        return json.dumps(
            {
                "event": "dtmf",
                "sequenceNumber": self._next(),
                "streamSid": self.stream_sid,
                "dtmf": {"track": "inbound_track", "digit": digit},
            }
        )

    def stop(self) -> str:
        """The caller hung up."""
        return json.dumps(
            {
                "event": "stop",
                "sequenceNumber": self._next(),
                "streamSid": self.stream_sid,
                "stop": {"accountSid": self.account_sid, "callSid": self.call_sid},
            }
        )
