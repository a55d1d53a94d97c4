"""Finding 16: media handshakes with fields of the wrong type (``customParameters`` or
``mediaFormat`` not an object), a sample rate of ``Infinity`` or ``1e400``, or deeply
nested JSON under 64 KB raised tracebacks (the carrier saw 1006, not 1008).

Each carrier validates its handshake with a typed model; every malformed handshake raises
``HandshakeInvalid`` and nothing else."""

from __future__ import annotations

import asyncio

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from telephony.contract import HandshakeInvalid
from telephony.registry import CARRIERS, make_provider
from tests.security.carrier_handshakes import HANDSHAKES

pytestmark = pytest.mark.integration  # the last test drives the server; the rest are in-process

DEEP = "[" * 20_000 + "]" * 20_000  # 40 KB: under the 64 KB message limit

CASES = {
    "rate Infinity": {"rate": "Infinity"},
    "rate -Infinity": {"rate": "-Infinity"},
    "rate NaN": {"rate": "NaN"},
    "rate 1e400": {"rate": "1e400"},
    "rate 8000.5": {"rate": "8000.5"},
    "rate object": {"rate": '{"a": 1}'},
    "rate list": {"rate": "[8000]"},
    "rate true": {"rate": "true"},
    "rate deep": {"rate": DEEP},
    "custom list": {"custom": "[1, 2]"},
    "custom string": {"custom": '"token=abc"'},
    "custom deep": {"custom": '{"a": ' + DEEP + "}"},
    "custom number values": {"custom": '{"token": {"x": 1}}'},
    "format string": {"fmt": '"audio/x-mulaw"'},
    "format list": {"fmt": "[]"},
    "format number": {"fmt": "8000"},
    "format deep": {"fmt": DEEP},
}

# Plivo's ``extraHeaders`` may be a string; Vonage's handshake has no parameters object
# (its "custom" slot is a free extra field: ignored, but depth-bounded)
IGNORED = {("plivo", "custom string"), ("vonage", "custom list"), ("vonage", "custom string"),
           ("vonage", "custom number values")}  # fmt: skip


@pytest.mark.parametrize("carrier", sorted(CARRIERS))
@pytest.mark.parametrize("case", sorted(CASES))
def test_malformed_handshake_raises_only_handshake_invalid(carrier: str, case: str) -> None:
    provider = make_provider(carrier, {}, api_base_urls={})
    messages = HANDSHAKES[carrier](**CASES[case])
    if (carrier, case) in IGNORED:
        start = provider.parse_stream_start(messages, {})
        assert start is not None
        return
    with pytest.raises(HandshakeInvalid) as refused:
        provider.parse_stream_start(messages, {})
    assert len(refused.value.reason) < 200  # names the field, does not echo the input


@pytest.mark.parametrize("carrier", sorted(CARRIERS))
@pytest.mark.parametrize(
    "message",
    ["not json", "[]", "null", "42", '"start"', '{"event": 5}', '{"event": "start"}',
     '{"event": "start", "start": []}', '{"event": "media"}', DEEP, '{"a":' * 5000 + "1" + "}" * 5000,
     b"\xff\xfe binary", b'{"event": "start"}', "{" + '"k": 1, ' * 3 + '"event": "connected"'],
)  # fmt: skip
def test_garbage_messages_raise_only_handshake_invalid(carrier: str, message: str | bytes) -> None:
    provider = make_provider(carrier, {}, api_base_urls={})
    with pytest.raises(HandshakeInvalid):
        provider.parse_stream_start([message], {})


SERVER_CASES = ["custom list", "format string", "rate Infinity", "rate 1e400", "format deep"]


@pytest.mark.parametrize("carrier", sorted(CARRIERS))
@pytest.mark.parametrize("case", SERVER_CASES)
async def test_the_server_closes_malformed_handshakes_with_1008(server, carrier: str, case: str) -> None:
    messages = HANDSHAKES[carrier](**CASES[case])
    async with connect(f"{server.ws_url}/telephony/{carrier}/stream", max_size=2**20) as ws:
        for message in messages:
            try:
                await ws.send(message)
            except ConnectionClosed:
                break
        with pytest.raises(ConnectionClosed):
            for _ in range(5):
                await asyncio.wait_for(ws.recv(), 10)
    assert ws.close_code == 1008, (carrier, case, ws.close_code)
