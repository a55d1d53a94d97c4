"""Outbound dialing and call control of Telnyx, Plivo, Vonage and Exotel against fake REST
servers speaking each carrier's API (auth scheme, paths, bodies, response shapes)."""

from __future__ import annotations

import base64
from dataclasses import replace

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from telephony.contract import CarrierApiError, DialRequest, UnsupportedOperation
from telephony.exotel import ExotelProvider
from telephony.plivo import PlivoProvider
from telephony.telnyx import TelnyxProvider
from telephony.vonage import VonageProvider
from tests.fakes.carriers.rest import FakeCarrierRest

REQUEST = DialRequest(
    to_number="+14155550123",
    from_number="+14155550199",
    answer_url="https://sb.example/telephony/x/answer?call=c1",
    status_url="https://sb.example/telephony/x/status?call=c1",
    stream_url="wss://sb.example/telephony/telnyx/stream?token=t",
    machine_detection=True,
)


async def test_telnyx_call_control() -> None:
    creds = {"api_key": "KEY1", "public_key": "", "connection_id": "conn-9"}
    async with FakeCarrierRest("telnyx", creds) as fake:
        p = TelnyxProvider(creds, api_base_url=fake.http_url)
        call_id = await p.dial(REQUEST)
        dial = fake.requests[-1]
        assert (dial.method, dial.path) == ("POST", "/v2/calls")
        assert dial.body["connection_id"] == "conn-9" and dial.body["to"] == "+14155550123"
        assert dial.body["stream_url"] == REQUEST.stream_url
        assert dial.body["answering_machine_detection"] == "detect"
        assert dial.body["webhook_url"] == REQUEST.status_url
        await p.send_dtmf(call_id, "1#")
        await p.transfer(call_id, "+14155550155")
        await p.hangup(call_id)
        paths = [(r.path, r.body) for r in fake.requests[1:]]
        assert paths == [
            (f"/v2/calls/{call_id}/actions/send_dtmf", {"digits": "1#"}),
            (f"/v2/calls/{call_id}/actions/transfer", {"to": "+14155550155"}),
            (f"/v2/calls/{call_id}/actions/hangup", {}),
        ]
        with pytest.raises(CarrierApiError) as refused:
            await TelnyxProvider({**creds, "api_key": "bad"}, api_base_url=fake.http_url).hangup(call_id)
        assert (refused.value.code, refused.value.status) == ("carrier_auth_failed", 401)


async def test_plivo_call_api() -> None:
    creds = {"auth_id": "MA123", "auth_token": "tok"}
    async with FakeCarrierRest("plivo", creds) as fake:
        p = PlivoProvider(creds, api_base_url=fake.http_url)
        uuid = await p.dial(REQUEST)
        dial = fake.requests[-1]
        assert (dial.method, dial.path) == ("POST", "/v1/Account/MA123/Call/")
        assert dial.body["to"] == "14155550123" and dial.body["from"] == "14155550199"
        assert dial.body["answer_url"] == REQUEST.answer_url
        assert dial.body["hangup_url"] == REQUEST.status_url
        assert dial.body["machine_detection"] == "true"
        await p.send_dtmf(uuid, "12")
        await p.hangup(uuid)
        assert [(r.method, r.path) for r in fake.requests[1:]] == [
            ("POST", f"/v1/Account/MA123/Call/{uuid}/DTMF/"),
            ("DELETE", f"/v1/Account/MA123/Call/{uuid}/"),
        ]
        with pytest.raises(UnsupportedOperation):
            await p.transfer(uuid, "+14155550155")


async def test_vonage_voice_api() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()).decode()
    public = key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    creds = {"application_id": "app-1", "private_key": private, "signature_secret": "s"}
    async with FakeCarrierRest("vonage", {**creds, "public_key": public.decode()}) as fake:
        p = VonageProvider(creds, api_base_url=fake.http_url)
        uuid = await p.dial(REQUEST)
        dial = fake.requests[-1]
        assert (dial.method, dial.path) == ("POST", "/v1/calls")
        assert dial.body["to"] == [{"type": "phone", "number": "14155550123"}]
        # the call a callback names is bound by our MAC (Vonage's JWT does not cover queries)
        [answer_url], [event_url] = dial.body["answer_url"], dial.body["event_url"]
        assert answer_url.startswith(REQUEST.answer_url + "&sb_mac=")
        assert event_url.startswith(REQUEST.status_url + "&sb_mac=")
        assert dial.body["machine_detection"] == "continue"
        await p.send_dtmf(uuid, "9")
        await p.transfer(uuid, "+14155550155")
        await p.hangup(uuid)
        calls = [(r.method, r.path, r.body) for r in fake.requests[1:]]
        assert calls[0] == ("PUT", f"/v1/calls/{uuid}/dtmf", {"digits": "9"})
        assert calls[1][2]["action"] == "transfer"
        assert calls[1][2]["destination"]["ncco"][0]["endpoint"][0]["number"] == "14155550155"
        assert calls[2] == ("PUT", f"/v1/calls/{uuid}", {"action": "hangup"})


async def test_exotel_connect_api() -> None:
    creds = {"account_sid": "acme", "api_key": "k", "api_token": "t", "app_id": "777"}
    async with FakeCarrierRest("exotel", creds) as fake:
        p = ExotelProvider(creds, api_base_url=fake.http_url)
        sid = await p.dial(REQUEST)
        dial = fake.requests[-1]
        assert (dial.method, dial.path) == ("POST", "/v1/Accounts/acme/Calls/connect.json")
        assert dial.body["From"] == "+14155550123" and dial.body["CallerId"] == "+14155550199"
        assert dial.body["Url"].endswith("/acme/exoml/start_voice/777")
        # Exotel authenticates its status callback with the user info of the URL we give it
        assert dial.body["StatusCallback"] == "https://k:t@sb.example/telephony/x/status?call=c1"
        assert sid
        await p.hangup(sid)  # no REST hang-up inside a Voicebot applet: nothing is sent
        assert len(fake.requests) == 1


async def test_keyed_dials_carry_the_key_where_each_carrier_takes_it() -> None:
    keyed = replace(REQUEST, idempotency_key="sb-" + "d" * 32)
    creds = {"api_key": "KEY1", "public_key": "", "connection_id": "conn-9"}
    async with FakeCarrierRest("telnyx", creds) as fake:
        p = TelnyxProvider(creds, api_base_url=fake.http_url)
        first, again = await p.dial(keyed), await p.dial(keyed)
        for dial in fake.requests:
            assert dial.body["command_id"] == keyed.idempotency_key
            assert base64.b64decode(dial.body["client_state"]).decode() == keyed.idempotency_key
        assert first == again and len(fake.dialed(REQUEST.to_number)) == 1  # Dial ignored
        await p.dial(REQUEST)  # unkeyed: neither field
        assert "command_id" not in fake.requests[-1].body and "client_state" not in fake.requests[-1].body
    creds = {"account_sid": "acme", "api_key": "k", "api_token": "t", "app_id": "777"}
    async with FakeCarrierRest("exotel", creds) as fake:
        await ExotelProvider(creds, api_base_url=fake.http_url).dial(keyed)
        assert fake.requests[-1].body["CustomField"] == keyed.idempotency_key
