"""The media-stream handshake is bounded: message count, message size and time; a
handshake the carrier cannot parse, or a sample rate it does not stream, is refused (1008)
before anything about the call is touched."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import Any

import pytest

from server.calls.phone.streams import POLICY_VIOLATION, TOO_BIG, StreamRefused, read_handshake
from telephony.twilio import TwilioProvider


def _start(rate: object = 8000, **start: Any) -> str:
    body = {"streamSid": "MZ1", "callSid": "CA1", "customParameters": {"token": "t"},
            "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": rate, "channels": 1}}  # fmt: skip
    return json.dumps({"event": "start", "start": {**body, **start}})


def _peer(*messages: str | bytes, then_wait: bool = False):  # type: ignore[no-untyped-def]
    queue = list(messages)

    async def receive() -> Mapping[str, Any]:
        if queue:
            data = queue.pop(0)
            return {"type": "websocket.receive", "bytes" if isinstance(data, bytes) else "text": data}
        if then_wait:
            await asyncio.Event().wait()  # a peer that goes quiet
        return {"type": "websocket.disconnect"}

    return receive


async def _refused(receive, **limits: Any) -> StreamRefused:  # type: ignore[no-untyped-def]
    with pytest.raises(StreamRefused) as caught:
        await read_handshake(receive, TwilioProvider({}), {}, **limits)
    return caught.value


async def test_a_complete_handshake_gives_the_start() -> None:
    start = await read_handshake(_peer('{"event": "connected"}', _start()), TwilioProvider({}), {})
    assert start is not None
    assert (start.carrier_call_id, start.sample_rate) == ("CA1", 8000)
    assert dict(start.custom_parameters) == {"token": "t"}


async def test_a_peer_that_leaves_first_gives_nothing() -> None:
    assert await read_handshake(_peer('{"event": "connected"}'), TwilioProvider({}), {}) is None


async def test_message_count_is_bounded() -> None:
    connected = '{"event": "connected"}'
    refused = await _refused(_peer(*[connected] * 10), max_messages=3)
    assert refused.code == POLICY_VIOLATION and "no start" in str(refused)


async def test_message_size_is_bounded() -> None:
    refused = await _refused(_peer("x" * 2_000), max_bytes=1_000)
    assert refused.code == TOO_BIG


async def test_time_is_bounded() -> None:
    refused = await _refused(_peer('{"event": "connected"}', then_wait=True), within_seconds=0.05)
    assert refused.code == POLICY_VIOLATION and "timeout" in str(refused)


@pytest.mark.parametrize("message", [
    "not json", "[1, 2]", '{"event": "media"}', _start(customParameters=["token"]),
    _start(rate="Infinity"), _start(rate=1e400), b"\x00\x01",
])  # fmt: skip
async def test_a_malformed_handshake_is_refused(message: str | bytes) -> None:
    assert (await _refused(_peer(message))).code == POLICY_VIOLATION


@pytest.mark.parametrize("rate", [1, 99, -8000, 10_000_000, 44_100])
async def test_a_sample_rate_the_carrier_does_not_stream_is_refused(rate: int) -> None:
    refused = await _refused(_peer(_start(rate)))
    assert refused.code == POLICY_VIOLATION
