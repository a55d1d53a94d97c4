"""Low: refresh families had no absolute lifetime (a login refreshed forever). A login now
ends REFRESH_FAMILY_MAX_AGE_SECONDS after it started, however often it is refreshed."""

from __future__ import annotations

import uuid

import pytest

from tests.security.identity_servers import serve, signup

pytestmark = pytest.mark.integration


async def test_refreshing_never_extends_a_login_past_its_end(database_url, data_dir):
    async with serve(database_url, data_dir, refresh_family_max_age_seconds=120,
                     refresh_token_ttl_seconds=3600) as (live, http):
        user = await signup(http)
        token = user.refresh_token
        for _ in range(3):
            r = await http.post("/api/v1/auth/refresh", json={"refresh_token": token})
            assert r.status_code == 200, r.text
            token = r.json()["refresh_token"]
        span = await live.services.db.fetchval(
            "SELECT EXTRACT(EPOCH FROM max(expires_at) - min(created_at)) FROM refresh_tokens"
            " WHERE user_id = $1", uuid.UUID(user.user_id))
        assert span <= 121  # capped by the family's end, not now + 1 hour

        # When the family's end has passed, the newest token no longer works.
        await live.services.db.execute(
            "UPDATE refresh_tokens SET created_at = created_at - interval '1 day',"
            " family_expires_at = now() - interval '1 second' WHERE user_id = $1",
            uuid.UUID(user.user_id))
        r = await http.post("/api/v1/auth/refresh", json={"refresh_token": token})
        assert r.status_code == 401
