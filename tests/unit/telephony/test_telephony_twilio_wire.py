"""Twilio: typed webhook and Media Streams models, replay keys, the account's numbers."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest

from telephony.contract import CarrierApiError, HandshakeInvalid, WebhookRejected
from telephony.twilio import TwilioProvider
from tests.fakes.carriers.twilio_rest import FakeTwilioRest

SID, TOKEN = "AC" + "3" * 32, "tok"
P = TwilioProvider({"account_sid": SID, "auth_token": TOKEN})


def _start(**fmt: object) -> str:
    media = {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1, **fmt}
    start = {"streamSid": "MZ1", "callSid": "CA1", "customParameters": {"token": "t"}, "mediaFormat": media}
    return json.dumps({"event": "start", "streamSid": "MZ1", "start": start})


def test_media_format_is_mulaw_8k_mono_only() -> None:
    start = P.parse_stream_start([_start()], {})
    assert start is not None and (start.sample_rate, start.encoding) == (8000, "mulaw")
    for bad in ({"sampleRate": 16000}, {"encoding": "audio/l16"}, {"channels": 2}, {"sampleRate": "8000x"}):
        with pytest.raises(HandshakeInvalid):
            P.parse_stream_start([_start(**bad)], {})


def test_handshake_binary_frame_and_too_many_parameters() -> None:
    with pytest.raises(HandshakeInvalid):
        P.parse_stream_start([_start().encode()], {})
    many = json.loads(_start())
    many["start"]["customParameters"] = {f"p{i}": "v" for i in range(40)}
    with pytest.raises(HandshakeInvalid):
        P.parse_stream_start([json.dumps(many)], {})


BAD_FIELDS = [("CallSid", "CA\x001"), ("CallSid", ""), ("To", ""), ("To", "+1 415"), ("From", "x" * 200),
              ("CallSid", "a" * 200)]  # fmt: skip


@pytest.mark.parametrize("field,value", BAD_FIELDS)
def test_inbound_fields_are_validated(field: str, value: str) -> None:
    form = {"CallSid": "CA1", "To": "+14155550100", "From": "+14155550101", field: value}
    with pytest.raises(WebhookRejected):
        P.parse_inbound(urlencode(form).encode(), {})


def test_status_duration_must_be_digits() -> None:
    with pytest.raises(WebhookRejected):
        P.parse_status(b"CallSid=CA1&CallStatus=completed&CallDuration=" + b"9" * 50, {})
    assert P.parse_status(b"CallSid=CA1&CallStatus=completed&CallDuration=12", {}).duration_seconds == 12


def test_replay_key_is_the_signature() -> None:
    a = P.replay_key("u", {"x-twilio-signature": "sig-a"}, b"")
    assert a == P.replay_key("u", {"x-twilio-signature": "sig-a"}, b"x")
    assert a != P.replay_key("u", {"x-twilio-signature": "sig-b"}, b"")
    assert a is not None and a.key.startswith("twilio:") and a.ttl_seconds >= 3600


async def test_account_numbers_through_the_sdk() -> None:
    async with FakeTwilioRest(SID, TOKEN) as fake:
        fake.numbers = {"+14155550100"}
        provider = TwilioProvider({"account_sid": SID, "auth_token": TOKEN}, api_base_url=fake.http_url)
        assert await provider.account_has_number("+14155550100") is True
        assert await provider.account_has_number("+14155550111") is False
        wrong = TwilioProvider({"account_sid": SID, "auth_token": "bad"}, api_base_url=fake.http_url)
        with pytest.raises(CarrierApiError) as failed:
            await wrong.account_has_number("+14155550100")
        assert failed.value.code == "carrier_auth_failed"
