"""Media-stream handshakes as each carrier sends them, with the media-format fields given
as raw JSON text (so ``Infinity``, ``1e400`` or an object can be put where a number goes)."""

from __future__ import annotations

import json
from collections.abc import Callable

TOKEN = {"token": "t" * 43}


def twilio(rate: str = "8000", custom: str = json.dumps(TOKEN), fmt: str | None = None) -> list[str]:
    media = fmt or f'{{"encoding": "audio/x-mulaw", "sampleRate": {rate}, "channels": 1}}'
    return ['{"event": "connected", "protocol": "Call", "version": "1.0.0"}',
            '{"event": "start", "streamSid": "MZ1", "start": {"streamSid": "MZ1", "callSid": "CA1", '
            f'"customParameters": {custom}, "mediaFormat": {media}}}}}']  # fmt: skip


def telnyx(rate: str = "8000", custom: str = json.dumps(TOKEN), fmt: str | None = None) -> list[str]:
    media = fmt or f'{{"encoding": "PCMU", "sample_rate": {rate}, "channels": 1}}'
    return ['{"event": "connected", "version": "1.0.0"}',
            '{"event": "start", "sequence_number": "1", "stream_id": "st1", "start": '
            f'{{"call_control_id": "v3:abc", "custom_parameters": {custom}, '
            f'"media_format": {media}}}}}']  # fmt: skip


def plivo(rate: str = "8000", custom: str = "{}", fmt: str | None = None) -> list[str]:
    media = fmt or f'{{"encoding": "audio/x-mulaw", "sampleRate": {rate}}}'
    return ['{"event": "start", "sequenceNumber": 0, "start": {"callId": "c1", "streamId": "s1", '
            f'"extraHeaders": {custom}, "mediaFormat": {media}}}}}']  # fmt: skip


def vonage(rate: str = "16000", custom: str = "{}", fmt: str | None = None) -> list[str]:
    content_type = fmt or json.dumps(f"audio/l16;rate={rate}")
    return [f'{{"event": "websocket:connected", "content-type": {content_type}, "token": "{TOKEN["token"]}", '
            f'"extra": {custom}}}']  # fmt: skip


def exotel(rate: str = '"8000"', custom: str = "{}", fmt: str | None = None) -> list[str]:
    media = fmt or f'{{"encoding": "base64", "sample_rate": {rate}, "bit_rate": "128kbps"}}'
    return ['{"event": "connected"}',
            '{"event": "start", "sequence_number": 1, "stream_sid": "s1", "start": {"stream_sid": "s1", '
            f'"call_sid": "c1", "custom_parameters": {custom}, "media_format": {media}}}}}']  # fmt: skip


HANDSHAKES: dict[str, Callable[..., list[str]]] = {
    "twilio": twilio, "telnyx": telnyx, "plivo": plivo, "vonage": vonage, "exotel": exotel,
}  # fmt: skip
