"""Low: no password change and no sign-out-everywhere. POST /api/v1/auth/password (needs the
current password) and POST /api/v1/auth/logout-all end every session: refresh tokens are
revoked and access tokens issued before stop working at once."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration


async def test_password_change_ends_other_sessions(client, make_user):
    user = await make_user()
    other = await client.post("/api/v1/auth/login",
                              json={"email": user.email, "password": user.password})
    other_access = {"Authorization": f"Bearer {other.json()['access_token']}"}

    wrong = await client.post("/api/v1/auth/password", headers=user.headers, json={
        "current_password": "not it at all", "new_password": "a brand new password"})
    assert wrong.status_code == 403
    r = await client.post("/api/v1/auth/password", headers=user.headers, json={
        "current_password": user.password, "new_password": "a brand new password"})
    assert r.status_code == 200, r.text
    fresh = {"Authorization": f"Bearer {r.json()['access_token']}"}

    assert (await client.get("/api/v1/auth/me", headers=fresh)).status_code == 200
    for headers in (user.headers, other_access):
        assert (await client.get("/api/v1/auth/me", headers=headers)).status_code == 401
    for token in (user.refresh_token, other.json()["refresh_token"]):
        assert (await client.post("/api/v1/auth/refresh",
                                  json={"refresh_token": token})).status_code == 401
    assert (await client.post("/api/v1/auth/login", json={
        "email": user.email, "password": user.password})).status_code == 401
    assert (await client.post("/api/v1/auth/login", json={
        "email": user.email, "password": "a brand new password"})).status_code == 200


async def test_sign_out_everywhere(client, make_user):
    user = await make_user()
    second = await client.post("/api/v1/auth/login",
                               json={"email": user.email, "password": user.password})
    r = await client.post("/api/v1/auth/logout-all", headers=user.headers)
    assert r.status_code == 204
    assert (await client.get("/api/v1/auth/me", headers=user.headers)).status_code == 401
    for token in (user.refresh_token, second.json()["refresh_token"]):
        assert (await client.post("/api/v1/auth/refresh",
                                  json={"refresh_token": token})).status_code == 401
    again = await client.post("/api/v1/auth/login",
                              json={"email": user.email, "password": user.password})
    headers = {"Authorization": f"Bearer {again.json()['access_token']}"}
    assert (await client.get("/api/v1/auth/me", headers=headers)).status_code == 200
