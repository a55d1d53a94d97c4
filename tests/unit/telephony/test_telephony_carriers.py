"""Telnyx, Plivo, Vonage and Exotel providers: webhook authentication as each carrier
documents it, markup, media-stream handshakes and serializers; plus the registry."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from urllib.parse import urlencode

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from telephony.contract import WebhookRejected
from telephony.exotel import ExotelProvider
from telephony.plivo import PlivoProvider
from telephony.registry import CARRIERS, UnknownCarrier, carrier_class, missing_credentials
from telephony.telnyx import TelnyxProvider
from telephony.vonage import VonageProvider

URL = "https://sb.example.com/telephony/x/voice"


def test_registry_lists_every_carrier_and_credentials() -> None:
    assert set(CARRIERS) == {"twilio", "telnyx", "plivo", "vonage", "exotel"}
    with pytest.raises(UnknownCarrier):
        carrier_class("nope")
    assert missing_credentials("twilio", {"account_sid": "AC1"}) == ["auth_token"]
    assert missing_credentials("plivo", {"auth_id": "a", "auth_token": "b"}) == []


def test_every_carrier_sends_bot_audio_in_whole_10ms_steps() -> None:
    # the media websocket is configured in 10 ms steps: 25 would quietly become 20
    sizes = {name: cls.media_out_chunk_ms for name, cls in CARRIERS.items()}
    assert all(ms >= 20 and ms % 10 == 0 for ms in sizes.values()), sizes
    assert sizes["exotel"] >= 100  # Exotel's documented minimum chunk (3.2 kB at 8 kHz)
    assert sizes["vonage"] == 20  # one 20 ms frame per Voice API websocket message


# -- Telnyx -------------------------------------------------------------------------------
def _telnyx() -> tuple[TelnyxProvider, Ed25519PrivateKey]:
    key = Ed25519PrivateKey.generate()
    public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    creds = {"api_key": "KEY", "public_key": base64.b64encode(public).decode()}
    return TelnyxProvider(creds), key


def test_telnyx_ed25519_signature_and_timestamp_window() -> None:
    provider, key = _telnyx()
    body = b'{"data":{"event_type":"call.hangup","payload":{"call_control_id":"v3:1"}}}'
    ts = str(int(time.time()))
    sig = base64.b64encode(key.sign(ts.encode() + b"|" + body)).decode()
    headers = {"telnyx-signature-ed25519": sig, "telnyx-timestamp": ts}
    assert provider.verify_webhook(URL, headers, body)
    assert not provider.verify_webhook(URL, headers, body + b" ")
    old = str(int(time.time()) - 3600)
    old_sig = base64.b64encode(key.sign(old.encode() + b"|" + body)).decode()
    assert not provider.verify_webhook(
        URL, {"telnyx-signature-ed25519": old_sig, "telnyx-timestamp": old}, body
    )
    other, _ = _telnyx()
    assert not other.verify_webhook(URL, headers, body)
    assert provider.parse_status(body, {}).status == "completed"


def test_telnyx_markup_and_stream_start() -> None:
    provider, _ = _telnyx()
    _, xml = provider.answer_markup("wss://h/telephony/telnyx/stream", {"token": "t1"})
    assert 'url="wss://h/telephony/telnyx/stream?token=t1"' in xml
    start = {"event": "start", "stream_id": "s1",
             "start": {"call_control_id": "v3:9", "media_format":
                       {"encoding": "PCMU", "sample_rate": 8000, "channels": 1}}}  # fmt: skip
    connected = json.dumps({"event": "connected", "version": "1.0.0"})
    info = provider.parse_stream_start([connected, json.dumps(start)], {"token": "t1"})
    assert info is not None and info.carrier_call_id == "v3:9"
    assert info.custom_parameters["token"] == "t1"
    amd = {"data": {"event_type": "call.machine.detection.ended",
                    "payload": {"call_control_id": "v3:9", "result": "machine"}}}  # fmt: skip
    assert provider.parse_status(json.dumps(amd).encode(), {}).answered_by == "machine"


# -- Plivo --------------------------------------------------------------------------------
def _plivo_v3(token: str, url: str, params: dict[str, str], nonce: str) -> str:
    # Plivo's documented V3 scheme for a POST to a URL without a query string:
    # url + "?" + sorted(name+value) + "." + nonce, HMAC-SHA256, base64
    data = url + "?" + "".join(k + params[k] for k in sorted(params)) + "." + nonce
    return base64.b64encode(hmac.new(token.encode(), data.encode(), hashlib.sha256).digest()).decode()


def test_plivo_v3_signature() -> None:
    provider = PlivoProvider({"auth_id": "MA1", "auth_token": "secret"})
    params = {"CallUUID": "u-1", "From": "14155550100", "To": "14155550199", "Direction": "inbound"}
    body = urlencode(params).encode()
    sig = _plivo_v3("secret", URL, params, "12345")
    headers = {"x-plivo-signature-v3": sig, "x-plivo-signature-v3-nonce": "12345"}
    assert provider.verify_webhook(URL, headers, body)
    assert provider.verify_webhook(URL, {**headers, "x-plivo-signature-v3": f"bogus,{sig}"}, body)
    assert not provider.verify_webhook(URL, {**headers, "x-plivo-signature-v3-nonce": "9"}, body)
    assert not provider.verify_webhook(URL + "x", headers, body)
    call = provider.parse_inbound(body, {})
    assert (call.from_number, call.to_number) == ("+14155550100", "+14155550199")


def test_plivo_markup_and_stream_start() -> None:
    provider = PlivoProvider({"auth_id": "MA1", "auth_token": "secret"})
    _, xml = provider.answer_markup("wss://h/telephony/plivo/stream", {"token": "a&b"})
    assert 'bidirectional="true"' in xml and "token=a%26b" in xml
    start = {"event": "start", "start": {"callId": "c1", "streamId": "s1",
             "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000}}}  # fmt: skip
    info = provider.parse_stream_start([json.dumps(start)], {"token": "x"})
    assert info is not None and info.stream_id == "s1" and info.custom_parameters == {"token": "x"}
    with pytest.raises(ValueError):
        provider.parse_stream_start([json.dumps({"event": "media"})], {})


# -- Vonage -------------------------------------------------------------------------------
def test_vonage_signed_jwt_with_payload_hash() -> None:
    provider = VonageProvider({"application_id": "app", "private_key": "-", "signature_secret": "s3"})
    body = json.dumps({"uuid": "u1", "status": "answered"}).encode()
    claims = {"iat": int(time.time()), "jti": "j", "iss": "Vonage",
              "payload_hash": hashlib.sha256(body).hexdigest()}  # fmt: skip
    good = {"authorization": "Bearer " + jwt.encode(claims, "s3", algorithm="HS256")}
    assert provider.verify_webhook(URL, good, body)
    assert not provider.verify_webhook(URL, good, body.replace(b"answered", b"completed"))
    forged = {"authorization": "Bearer " + jwt.encode(claims, "other", algorithm="HS256")}
    assert not provider.verify_webhook(URL, forged, body)
    assert not provider.verify_webhook(URL, {}, body)
    assert provider.parse_status(body, {}).status == "in-progress"
    ncco = json.loads(provider.answer_markup("wss://h/s", {"token": "t"})[1])
    assert ncco[0]["endpoint"][0]["headers"] == {"token": "t"}
    connected = json.dumps({"event": "websocket:connected",
                            "content-type": "audio/l16;rate=16000", "token": "t"})  # fmt: skip
    info = provider.parse_stream_start([connected], {})
    assert info is not None and info.sample_rate == 16000 and info.custom_parameters["token"] == "t"


# -- Exotel -------------------------------------------------------------------------------
def test_exotel_basic_auth_and_stream_start() -> None:
    provider = ExotelProvider({"account_sid": "acc", "api_key": "k", "api_token": "t"})
    good = {"authorization": "Basic " + base64.b64encode(b"k:t").decode()}
    bad = {"authorization": "Basic " + base64.b64encode(b"k:x").decode()}
    assert provider.verify_webhook(URL, good, b"")
    assert not provider.verify_webhook(URL, bad, b"")
    assert not provider.verify_webhook(URL, {}, b"")
    call = provider.parse_inbound(b"CallSid=c1&CallFrom=%2B911&CallTo=%2B912", {})
    assert call.to_number == "+912"
    with pytest.raises(WebhookRejected):
        provider.parse_inbound(b"CallFrom=1", {})
    assert json.loads(provider.answer_markup("wss://h/s", {"token": "t"})[1]) == {"url": "wss://h/s?token=t"}
    start = {"event": "start", "stream_sid": "s1",
             "start": {"stream_sid": "s1", "call_sid": "c1",
                       "media_format": {"encoding": "base64", "sample_rate": "8000"}}}  # fmt: skip
    info = provider.parse_stream_start([json.dumps(start)], {"token": "t"})
    assert info is not None and info.carrier_call_id == "c1" and info.sample_rate == 8000
