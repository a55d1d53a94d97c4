"""Low: refresh-token race. A legitimate double refresh (two tabs) logged the user out, and
reuse detection racing the winner could leave the winner's new token alive. Now a rotated
token presented again within REFRESH_REUSE_GRACE_SECONDS gets a token, and after the window
the whole login is revoked, the winner's new token included (each presentation locks the
token's row, so the revocation always sees the winner's token)."""

from __future__ import annotations

import asyncio

import pytest

from tests.security.identity_servers import serve, signup

pytestmark = pytest.mark.integration


async def _twice(http, token):
    return await asyncio.gather(*(http.post("/api/v1/auth/refresh", json={"refresh_token": token})
                                  for _ in range(2)))


async def test_double_refresh_within_the_grace_window_keeps_the_login(client, make_user):
    user = await make_user()
    a, b = await _twice(client, user.refresh_token)
    assert (a.status_code, b.status_code) == (200, 200), (a.text, b.text)
    for r in (a, b):  # both tabs carry on
        nxt = await client.post("/api/v1/auth/refresh",
                                json={"refresh_token": r.json()["refresh_token"]})
        assert nxt.status_code == 200, nxt.text


async def test_reuse_detection_never_leaves_the_winners_token_alive(database_url, data_dir):
    async with serve(database_url, data_dir, refresh_reuse_grace_seconds=0) as (_, http):
        for _ in range(8):  # the race is timing-dependent: try it several times
            user = await signup(http)
            results = await _twice(http, user.refresh_token)
            winners = [r for r in results if r.status_code == 200]
            assert len(winners) <= 1
            for r in winners:
                after = await http.post("/api/v1/auth/refresh",
                                        json={"refresh_token": r.json()["refresh_token"]})
                assert after.status_code == 401, "the winner's token survived reuse detection"
