"""Telnyx: typed Call Control events, TeXML forms and media handshake; replay keys; the
account's numbers."""

from __future__ import annotations

import json

import pytest

from telephony.contract import HandshakeInvalid, WebhookRejected
from telephony.telnyx import TelnyxProvider
from tests.fakes.carriers.rest import FakeCarrierRest

CREDS = {"api_key": "KEY", "public_key": ""}
P = TelnyxProvider(CREDS)


def _start(**fmt: object) -> str:
    media = {"encoding": "PCMU", "sample_rate": 8000, **fmt}
    return json.dumps({"event": "start", "stream_id": "s1",
                       "start": {"call_control_id": "v3:1", "media_format": media}})  # fmt: skip


def test_media_format_pcmu_or_pcma_at_8k() -> None:
    assert P.parse_stream_start([_start(encoding="pcma")], {}).encoding == "PCMA"  # type: ignore[union-attr]
    for bad in ({"encoding": "OPUS"}, {"encoding": "L16"}, {"sample_rate": 16000}, {"channels": 2}):
        with pytest.raises(HandshakeInvalid):
            P.parse_stream_start([_start(**bad)], {})


def test_events_are_typed() -> None:
    event = {"data": {"event_type": "call.hangup", "payload": {"call_control_id": "v3:1",
                                                              "hangup_cause": "user_busy"}}}  # fmt: skip
    assert P.parse_status(json.dumps(event).encode(), {}).status == "busy"
    for bad in ({"data": []}, {"data": {"event_type": "call.hangup", "payload": "x"}},
                {"data": {"event_type": "call.hangup", "payload": {"call_control_id": "v3:\x00"}}},
                {"data": {"event_type": "x" * 100, "payload": {}}}):  # fmt: skip
        with pytest.raises(WebhookRejected):
            P.parse_status(json.dumps(bad).encode(), {})
    with pytest.raises(WebhookRejected):
        P.parse_inbound(b'{"data": {"event_type": "call.initiated", "payload": {"to": "+1"}}}', {})


def test_replay_key_covers_the_window() -> None:
    key = P.replay_key("u", {"telnyx-signature-ed25519": "abc"}, b"")
    assert key is not None and key.key.startswith("telnyx:") and key.ttl_seconds == 600


async def test_account_numbers_against_the_fake() -> None:
    async with FakeCarrierRest("telnyx", CREDS) as fake:
        fake.numbers = {"+14155550100"}
        provider = TelnyxProvider(CREDS, api_base_url=fake.http_url)
        assert await provider.account_has_number("+14155550100") is True
        assert await provider.account_has_number("+14155550111") is False
        assert fake.requests[-1].path == "/v2/phone_numbers"
