"""Vonage: typed webhooks and ``websocket:connected``, JWT replay keys, the account's
numbers (Numbers API with the account key and secret)."""

from __future__ import annotations

import json

import pytest

from telephony.contract import HandshakeInvalid, UnsupportedOperation, WebhookRejected
from telephony.vonage import VonageProvider
from tests.fakes.carriers.rest import FakeCarrierRest

CREDS = {"application_id": "app", "private_key": "-", "signature_secret": "s" * 32,
         "api_key": "k", "api_secret": "sec"}  # fmt: skip
P = VonageProvider(CREDS)


def _connected(content_type: str = "audio/l16;rate=16000", **extra: object) -> str:
    return json.dumps({"event": "websocket:connected", "content-type": content_type, **extra})


def test_l16_at_8k_or_16k_only() -> None:
    assert P.parse_stream_start([_connected("audio/l16;rate=8000")], {}).sample_rate == 8000  # type: ignore[union-attr]
    for bad in ("audio/l16;rate=1", "audio/l16;rate=44100", "audio/pcmu;rate=8000", "audio/l16", "x" * 100):
        with pytest.raises(HandshakeInvalid):
            P.parse_stream_start([_connected(bad)], {})
    with pytest.raises(HandshakeInvalid):
        P.parse_stream_start([_connected(**{f"h{i}": "v" for i in range(40)})], {})


def test_webhooks_are_typed() -> None:
    assert P.parse_status(b'{"uuid": "u1", "status": "completed", "duration": 7}', {}).duration_seconds == 7
    for bad in (b'{"uuid": ["u1"], "status": "completed"}', b'{"uuid": "u\\u00001", "status": "completed"}',
                b'{"uuid": "u1", "status": {"a": 1}}', b"[1]"):  # fmt: skip
        with pytest.raises(WebhookRejected):
            P.parse_status(bad, {})


async def test_account_numbers_need_the_account_key() -> None:
    async with FakeCarrierRest("vonage", CREDS) as fake:
        fake.numbers = {"+14155550100"}
        provider = VonageProvider(CREDS, api_base_url=fake.http_url)
        assert await provider.account_has_number("+14155550100") is True
        assert await provider.account_has_number("+14155550111") is False
        keyless = VonageProvider(
            {k: v for k, v in CREDS.items() if k != "api_secret"}, api_base_url=fake.http_url
        )
        with pytest.raises(UnsupportedOperation):
            await keyless.account_has_number("+14155550100")
