"""Exotel: typed applet requests and ``start`` event, API hosts, status-callback
credentials, the account's ExoPhones."""

from __future__ import annotations

import json

import pytest

from telephony.contract import DialRequest, HandshakeInvalid
from telephony.exotel import ExotelProvider
from tests.fakes.carriers.rest import FakeCarrierRest

CREDS = {"account_sid": "acme", "api_key": "k@y", "api_token": "t:k", "app_id": "1"}
P = ExotelProvider(CREDS)


def _start(**fmt: object) -> str:
    return json.dumps({"event": "start", "stream_sid": "s1", "start": {"call_sid": "c1",
                       "media_format": {"encoding": "base64", "sample_rate": "8000", **fmt}}})  # fmt: skip


def test_linear_pcm_at_8k_or_16k() -> None:
    assert P.parse_stream_start([_start(sample_rate="16000")], {}).sample_rate == 16000  # type: ignore[union-attr]
    for bad in ({"sample_rate": "24000"}, {"sample_rate": "8k"}, {"encoding": "audio/x-mulaw"}):
        with pytest.raises(HandshakeInvalid):
            P.parse_stream_start([_start(**bad)], {})


def test_api_hosts_and_account_sid() -> None:
    assert ExotelProvider.credential_problems({**CREDS, "subdomain": "api.in.exotel.com"}) == {}
    assert ExotelProvider.credential_problems(CREDS) == {}
    assert "subdomain" in ExotelProvider.credential_problems({**CREDS, "subdomain": "exotel.com"})
    assert "account_sid" in ExotelProvider.credential_problems({**CREDS, "account_sid": "../x"})


async def test_status_callback_carries_the_credentials_and_numbers_are_listed() -> None:
    async with FakeCarrierRest("exotel", CREDS) as fake:
        provider = ExotelProvider(CREDS, api_base_url=fake.http_url)
        await provider.dial(DialRequest("+14155550123", "+14155550199", "https://sb.example/a",
                                        "https://sb.example/telephony/exotel/status?call=1"))  # fmt: skip
        # user info percent-encoded: "@" and ":" in the key or token cannot move the host
        assert fake.requests[-1].body["StatusCallback"] == (
            "https://k%40y:t%3Ak@sb.example/telephony/exotel/status?call=1"
        )
        fake.hold("+919876543210")
        assert await provider.account_has_number("+919876543210") is True
        assert await provider.account_has_number("+919876543211") is False
