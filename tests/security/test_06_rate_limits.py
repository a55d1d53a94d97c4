"""Finding 6: no rate limiting anywhere (unlimited password guessing, each attempt a 64 MiB
Argon2id hash). Login, sign-up, refresh and invitations are limited per IP and per account,
chat and WebRTC offers per organization, answered with 429 and Retry-After; counters live in
Redis when configured (shared by every instance); concurrent password hashes are bounded."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from server.auth import passwords
from server.coordination.rate_limit import RateLimits, Rule
from server.errors import ApiError
from server.settings import load_settings
from tests.security.identity_servers import serve, signup

pytestmark = pytest.mark.integration

TIGHT = {
    "rate_limits_enabled": True,
    "rate_limit_login_account": "3/minute",
    "rate_limit_login_ip": "8/minute",
    "rate_limit_signup_ip": "4/minute",
    "rate_limit_signup_account": "4/minute",
    "rate_limit_refresh_ip": "6/minute",
    "rate_limit_invite_account": "2/minute",
}


def _assert_429(r):
    assert r.status_code == 429, r.text
    assert r.json()["error"]["code"] == "rate_limited"
    assert int(r.headers["retry-after"]) >= 1


async def test_login_guessing_is_limited_per_account_then_per_ip(database_url, data_dir):
    async with serve(database_url, data_dir, **TIGHT) as (_, http):
        user = await signup(http)
        for _ in range(3):
            r = await http.post("/api/v1/auth/login", json={"email": user.email, "password": "guess"})
            assert r.status_code == 401
        _assert_429(await http.post("/api/v1/auth/login",
                                    json={"email": user.email, "password": user.password}))
        # Other accounts from the same IP still work until the per-IP limit.
        statuses = []
        for _ in range(6):
            r = await http.post("/api/v1/auth/login", json={
                "email": f"n-{uuid.uuid4().hex[:6]}@example.com", "password": "guess"})
            statuses.append(r.status_code)
        assert statuses[0] == 401 and statuses[-1] == 429


async def test_signup_refresh_and_invitations_are_limited(database_url, data_dir):
    async with serve(database_url, data_dir, **TIGHT) as (_, http):
        owner = await signup(http)
        statuses = [
            (await http.post("/api/v1/auth/signup", json={
                "email": f"s-{uuid.uuid4().hex[:6]}@example.com",
                "password": "correct horse battery"})).status_code
            for _ in range(4)
        ]  # fmt: skip
        assert statuses[:3] == [201, 201, 201] and statuses[3] == 429

        token = owner.refresh_token
        codes = []
        for _ in range(7):
            r = await http.post("/api/v1/auth/refresh", json={"refresh_token": token})
            codes.append(r.status_code)
            if r.status_code == 200:
                token = r.json()["refresh_token"]
        assert codes[:6] == [200] * 6
        assert codes[6] == 429

        invites = [
            await http.post("/api/v1/organization/members", json={
                "email": f"i-{uuid.uuid4().hex[:6]}@example.com"}, headers=owner.headers)
            for _ in range(3)
        ]  # fmt: skip
        assert [r.status_code for r in invites[:2]] == [202, 202]
        _assert_429(invites[2])


async def test_limits_are_shared_through_redis(redis_url, redis_prefix):
    settings = load_settings(_env_file=None, redis_url=redis_url, redis_prefix=redis_prefix,
                             rate_limits_enabled=True, rate_limit_chat_org="2/minute",
                             rate_limit_webrtc_offer_org="1/minute")
    one, two = RateLimits(settings), RateLimits(settings)  # two instances of the fleet
    org = str(uuid.uuid4())
    await one.hit(Rule.CHAT_ORG, org)
    await two.hit(Rule.CHAT_ORG, org)
    with pytest.raises(ApiError) as refused:
        await one.hit(Rule.CHAT_ORG, org)
    assert refused.value.status == 429 and refused.value.headers["Retry-After"]
    await one.hit(Rule.CHAT_ORG, str(uuid.uuid4()))  # another organization is unaffected
    await two.hit(Rule.WEBRTC_OFFER_ORG, org)
    with pytest.raises(ApiError):
        await one.hit(Rule.WEBRTC_OFFER_ORG, org)


async def test_concurrent_password_hashes_are_bounded():
    passwords.configure(1, 1)  # one running, one waiting
    try:
        results = await asyncio.gather(
            *(passwords.verify_password(None, "guess") for _ in range(6)), return_exceptions=True
        )
    finally:
        passwords.configure(2, 32)
    busy = [r for r in results if isinstance(r, ApiError)]
    assert busy and all(r.status == 503 and r.headers["Retry-After"] for r in busy)
    assert any(r is False for r in results)  # the admitted ones still ran (and failed)


async def test_chat_and_webrtc_offers_are_limited_per_organization(database_url, data_dir):
    async with serve(database_url, data_dir, rate_limits_enabled=True,
                     rate_limit_chat_org="2/minute", rate_limit_webrtc_offer_org="1/minute",
                     ) as (_, http):
        owner, other = await signup(http), await signup(http)
        chat = f"/api/v1/workflows/{uuid.uuid4()}/chat"
        codes = [(await http.post(chat, json={"message": "hi"}, headers=owner.headers)).status_code
                 for _ in range(3)]
        assert codes[:2] != [429, 429] and codes[2] == 429
        assert (await http.post(chat, json={"message": "hi"},
                                headers=other.headers)).status_code != 429
        offer = {"sdp": "v=0", "type": "offer", "workflow_id": str(uuid.uuid4())}
        first = await http.post("/api/v1/webrtc/offer", json=offer, headers=owner.headers)
        assert first.status_code != 429
        _assert_429(await http.post("/api/v1/webrtc/offer", json=offer, headers=owner.headers))
