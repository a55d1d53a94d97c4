"""Finding 7 (carrier parts): signed carrier webhooks could be replayed (Twilio signatures
and Plivo nonces never remembered, Telnyx signatures reusable for 300 s, Vonage JWTs with
no age check). A verified request is now accepted once (``ReplayGuard``, Redis-backed when
configured) and a Vonage JWT older than the window is refused."""

from __future__ import annotations

import hashlib
import json
import time
import uuid

import httpx
import jwt
import pytest
from redis.asyncio import Redis

from db import phone_numbers as numbers_db
from loadgen.callers.carriers import PlivoCaller
from server.coordination.replay import ReplayGuard
from telephony.vonage import VonageProvider

pytestmark = pytest.mark.integration



async def test_in_process_guard_accepts_once_and_stays_bounded() -> None:
    guard = ReplayGuard(max_keys=3)
    assert await guard.first_seen("a", 60) is True
    assert await guard.first_seen("a", 60) is False
    for key in "bcdef":
        assert await guard.first_seen(key, 60) is True
    assert len(guard) == 3


async def test_redis_guard_is_shared_by_instances(redis_url: str, redis_prefix: str) -> None:
    redis = Redis.from_url(redis_url)
    try:
        one, two = ReplayGuard(redis, prefix=redis_prefix), ReplayGuard(redis, prefix=redis_prefix)
        key = uuid.uuid4().hex
        assert await one.first_seen(key, 30) is True
        assert await two.first_seen(key, 30) is False
        assert 0 < await redis.ttl(f"{redis_prefix}:replay:{key}") <= 30
    finally:
        await redis.aclose()


def _vonage_jwt(secret: str, body: bytes, **claims: object) -> dict[str, str]:
    payload = {"iat": int(time.time()), "jti": uuid.uuid4().hex,
               "payload_hash": hashlib.sha256(body).hexdigest(), **claims}  # fmt: skip
    return {"authorization": "Bearer " + jwt.encode(payload, secret, algorithm="HS256")}


def test_vonage_jwt_age_and_application_are_checked() -> None:
    secret = "vonage-signature-secret-0123456789"
    provider = VonageProvider({"application_id": "app-1", "signature_secret": secret})
    body = json.dumps({"uuid": "u1", "status": "completed"}).encode()
    url = provider._bind("https://sb.example/telephony/vonage/status?call=1")
    assert provider.verify_webhook(url, _vonage_jwt(secret, body), body)
    assert not provider.verify_webhook(url, _vonage_jwt(secret, body, iat=int(time.time()) - 3600), body)
    assert not provider.verify_webhook(url, _vonage_jwt(secret, body, iat=int(time.time()) + 3600), body)
    assert not provider.verify_webhook(url, _vonage_jwt(secret, body, application_id="other"), body)
    assert provider.verify_webhook(url, _vonage_jwt(secret, body, application_id="app-1"), body)
    headers = _vonage_jwt(secret, body)
    assert provider.replay_key(url, headers, body) == provider.replay_key(url, headers, body)
    other = _vonage_jwt(secret, body)
    assert provider.replay_key(url, headers, body) != provider.replay_key(url, other, body)


async def test_a_replayed_signed_webhook_is_refused(client: httpx.AsyncClient, make_user, server) -> None:
    user = await make_user()
    caller = PlivoCaller(public_url=server.url, server_url=server.url)
    acct = await client.post("/api/v1/carriers", headers=user.headers, json={
        "carrier": "plivo", "name": "p", "credentials": caller.credentials})  # fmt: skip
    assert acct.status_code == 201, acct.text
    number = f"+1415888{uuid.uuid4().int % 10000:04d}"
    await numbers_db.create(
        server.services.db, uuid.UUID(user.organization_id), number=number,
        carrier_account_id=uuid.UUID(acct.json()["id"]), workflow_id=None,
        caller_id_allowed=True, label=None,
    )  # fmt: skip
    request = caller.webhook(number, "+14155550100")
    first = await client.request(**request)
    assert first.status_code != 403, first.text
    replayed = await client.request(**request)
    assert replayed.status_code == 403 and replayed.text == "invalid signature"
    fresh = await client.request(**caller.webhook(number, "+14155550100"))  # a new nonce
    assert fresh.status_code != 403


def test_vonage_get_callbacks_bind_the_call_they_name() -> None:
    """Vonage's JWT covers no query string: the ``call`` of the URLs we hand Vonage (answer
    and event URLs) carries our MAC, so a GET cannot be pointed at another call."""
    secret = "vonage-signature-secret-0123456789"
    provider = VonageProvider({"application_id": "app-1", "signature_secret": secret})
    base = "https://sb.example/telephony/vonage/answer?call="
    call_a, call_b = str(uuid.uuid4()), str(uuid.uuid4())
    signed_a = provider._bind(base + call_a)
    assert provider.verify_webhook(signed_a, _vonage_jwt(secret, b""), b"")
    mac = signed_a.rsplit("sb_mac=", 1)[1]
    for forged in (base + call_b + "&sb_mac=" + mac, base + call_b, base + call_a,
                   f"{signed_a}&call={call_b}", base + call_a + "&sb_mac=é"):  # fmt: skip
        assert not provider.verify_webhook(forged, _vonage_jwt(secret, b""), b""), forged
