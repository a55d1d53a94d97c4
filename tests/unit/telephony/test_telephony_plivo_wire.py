"""Plivo: typed forms and ``start`` event, nonce replay keys, the account's numbers."""

from __future__ import annotations

import json

import pytest

from telephony.contract import CarrierApiError, HandshakeInvalid, WebhookRejected
from telephony.plivo import PlivoProvider
from tests.fakes.carriers.rest import FakeCarrierRest

CREDS = {"auth_id": "MA" + "9" * 18, "auth_token": "tok"}
P = PlivoProvider(CREDS)


def _start(**fmt: object) -> str:
    return json.dumps({"event": "start", "start": {"callId": "c1", "streamId": "s1",
                       "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, **fmt}}})  # fmt: skip


def test_media_format_mulaw_8k_only() -> None:
    assert P.parse_stream_start([_start()], {"token": "t"}).custom_parameters == {"token": "t"}  # type: ignore[union-attr]
    for bad in ({"encoding": "audio/x-l16"}, {"sampleRate": 16000}, {"sampleRate": None}):
        with pytest.raises(HandshakeInvalid):
            P.parse_stream_start([_start(**bad)], {})


def test_forms_are_typed() -> None:
    assert P.parse_status(b"CallUUID=u1&CallStatus=completed&Duration=3", {}).duration_seconds == 3
    assert P.parse_status(b"CallUUID=u1&Machine=true", {}).answered_by == "machine"
    for bad in (b"CallUUID=u%001&CallStatus=completed", b"CallStatus=completed", b"\xff\xfe"):
        with pytest.raises(WebhookRejected):
            P.parse_status(bad, {})


def test_replay_key_is_the_nonce() -> None:
    a = P.replay_key("u", {"x-plivo-signature-v3-nonce": "1", "x-plivo-signature-v3": "a"}, b"")
    b = P.replay_key("u", {"x-plivo-signature-v3-nonce": "1", "x-plivo-signature-v3": "b,a"}, b"")
    assert a == b  # reordering the listed signatures does not make a new request
    assert a != P.replay_key("u", {"x-plivo-signature-v3-nonce": "2"}, b"")


async def test_account_numbers_against_the_fake() -> None:
    async with FakeCarrierRest("plivo", CREDS) as fake:
        fake.numbers = {"+14155550100"}
        provider = PlivoProvider(CREDS, api_base_url=fake.http_url)
        assert await provider.account_has_number("+14155550100") is True
        assert await provider.account_has_number("+14155550111") is False
        with pytest.raises(CarrierApiError):
            await PlivoProvider({**CREDS, "auth_token": "x"}, api_base_url=fake.http_url).account_has_number(
                "+1"
            )
