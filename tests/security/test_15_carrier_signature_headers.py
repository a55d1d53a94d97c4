"""Finding 15 (carrier signature headers): a 5,000-digit or ``²³`` Telnyx timestamp raised
``ValueError`` from ``int()``; non-ASCII Plivo signature or Exotel Basic-auth values made
``hmac.compare_digest`` raise ``TypeError``: each an unauthenticated 500. Verification now
answers False (a clean 403) for every one."""

from __future__ import annotations

import base64

import pytest

from telephony.exotel import ExotelProvider
from telephony.plivo import PlivoProvider
from telephony.telnyx import TelnyxProvider

pytestmark = pytest.mark.unit

URL = "https://sb.example/telephony/x/voice"
BODY = b"CallSid=CA1&To=%2B14155550100"


@pytest.mark.parametrize("timestamp", ["9" * 5000, "²³", "１２３", "12 ", "-1", "0x10", ""])
def test_telnyx_odd_timestamps_fail_verification_cleanly(timestamp: str) -> None:
    provider = TelnyxProvider({"public_key": base64.b64encode(b"k" * 32).decode()})
    signature = base64.b64encode(b"s" * 64).decode()
    headers = {"telnyx-signature-ed25519": signature, "telnyx-timestamp": timestamp}
    assert provider.verify_webhook(URL, headers, BODY) is False


@pytest.mark.parametrize("signature", ["é" * 44, "sig,ñ", "☃", "\x00"])
def test_plivo_non_ascii_signature_fails_verification_cleanly(signature: str) -> None:
    provider = PlivoProvider({"auth_id": "MA1", "auth_token": "tok"})
    headers = {"x-plivo-signature-v3": signature, "x-plivo-signature-v3-nonce": "123"}
    assert provider.verify_webhook(URL, headers, BODY) is False


@pytest.mark.parametrize("user_password", ["é:tok", "key:ñ", "☃:☃"])
def test_exotel_non_ascii_basic_auth_fails_verification_cleanly(user_password: str) -> None:
    provider = ExotelProvider({"account_sid": "a", "api_key": "key", "api_token": "tok"})
    auth = "Basic " + base64.b64encode(user_password.encode()).decode()
    assert provider.verify_webhook(URL, {"authorization": auth}, b"") is False
    assert provider.verify_webhook(URL, {"authorization": "Basic ☃☃☃"}, b"") is False
