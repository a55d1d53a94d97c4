"""Signup, login, refresh rotation and reuse detection, logout, token validation."""

from __future__ import annotations

import time
import uuid

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.members import add_member


async def test_signup_login_me(client, make_user):
    user = await make_user(name="Ada", organization_name="Analytical Engines")
    me = await client.get("/api/v1/auth/me", headers=user.headers)
    assert me.status_code == 200, me.text
    body = me.json()
    assert body["email"] == user.email
    assert body["role"] == "owner"
    assert body["auth"] == "user"
    assert body["memberships"][0]["organization_name"] == "Analytical Engines"

    login = await client.post(
        "/api/v1/auth/login", json={"email": user.email.upper(), "password": user.password}
    )
    assert login.status_code == 200, login.text
    assert login.json()["organization_id"] == user.organization_id


async def test_signup_duplicate_email_case_insensitive(client, make_user):
    user = await make_user()
    again = await client.post(
        "/api/v1/auth/signup", json={"email": user.email.upper(), "password": "another password"}
    )
    # No error that would tell a stranger the email is registered; and no account or token.
    assert again.status_code == 202, again.text
    assert again.json()["status"] == "pending" and "access_token" not in again.json()
    login = await client.post("/api/v1/auth/login",
                              json={"email": user.email, "password": "another password"})
    assert login.status_code == 401


async def test_login_wrong_password_and_unknown_email(client, make_user):
    user = await make_user()
    bad = await client.post("/api/v1/auth/login", json={"email": user.email, "password": "nope"})
    assert bad.status_code == 401
    assert bad.json()["error"]["code"] == "unauthorized"
    unknown = await client.post(
        "/api/v1/auth/login", json={"email": "nobody@example.com", "password": "whatever1234"}
    )
    assert unknown.status_code == 401
    assert unknown.json()["error"]["message"] == bad.json()["error"]["message"]


async def test_refresh_rotates_and_reuse_revokes_family(client, make_user, server):
    user = await make_user()
    first = await client.post("/api/v1/auth/refresh", json={"refresh_token": user.refresh_token})
    assert first.status_code == 200, first.text
    rotated = first.json()["refresh_token"]
    assert rotated != user.refresh_token

    second = await client.post("/api/v1/auth/refresh", json={"refresh_token": rotated})
    assert second.status_code == 200
    newest = second.json()["refresh_token"]

    # Replaying the first (already rotated) token after the grace window is theft: the
    # whole family dies. (Age the use instead of sleeping through the window.)
    await server.services.db.execute(
        "UPDATE refresh_tokens SET used_at = used_at - interval '1 hour' WHERE used_at IS NOT NULL"
        " AND user_id = $1", uuid.UUID(user.user_id))
    replay = await client.post("/api/v1/auth/refresh", json={"refresh_token": user.refresh_token})
    assert replay.status_code == 401
    assert replay.json()["error"]["code"] == "refresh_token_reused"
    after = await client.post("/api/v1/auth/refresh", json={"refresh_token": newest})
    assert after.status_code == 401


async def test_logout_revokes_refresh_token(client, make_user):
    user = await make_user()
    out = await client.post("/api/v1/auth/logout", json={"refresh_token": user.refresh_token})
    assert out.status_code == 204
    again = await client.post("/api/v1/auth/refresh", json={"refresh_token": user.refresh_token})
    assert again.status_code == 401


async def test_expired_tampered_and_foreign_tokens_rejected(client, make_user, server):
    user = await make_user()
    signer = server.services.signer
    assert (await client.get("/api/v1/auth/me")).status_code == 401

    # Tampered payload: flip the role claim, keep the signature.
    header, payload, signature = user.access_token.split(".")
    claims = jwt.decode(user.access_token, options={"verify_signature": False})
    claims["org"] = str(uuid.uuid4())
    forged_payload = jwt.utils.base64url_encode(jwt.api_jws.json.dumps(claims).encode()).decode()
    tampered = f"{header}.{forged_payload}.{signature}"
    r = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {tampered}"})
    assert r.status_code == 401

    # Signed by another key with our kid.
    other = Ed25519PrivateKey.generate()
    foreign = jwt.encode(claims, other, algorithm="EdDSA", headers={"kid": signer.kid})
    r = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {foreign}"})
    assert r.status_code == 401

    # Expired but otherwise valid (signed with the real key).
    now = int(time.time())
    expired_claims = jwt.decode(user.access_token, options={"verify_signature": False})
    expired_claims.update(iat=now - 3600, nbf=now - 3600, exp=now - 60)
    expired = jwt.encode(expired_claims, signer._private, algorithm="EdDSA",
                         headers={"kid": signer.kid})
    r = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {expired}"})
    assert r.status_code == 401
    assert "expired" in r.json()["error"]["message"]

    # Wrong audience.
    wrong_aud = dict(expired_claims, exp=now + 600, aud="someone-else")
    token = jwt.encode(wrong_aud, signer._private, algorithm="EdDSA", headers={"kid": signer.kid})
    r = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401


async def test_jwks_verifies_access_token(client, make_user):
    user = await make_user()
    jwks = (await client.get("/.well-known/jwks.json")).json()
    key = jwt.PyJWK(jwks["keys"][0])
    claims = jwt.decode(user.access_token, key.key, algorithms=["EdDSA"],
                        audience="switchboard-api", issuer="switchboard")
    assert claims["sub"] == user.user_id
    assert jwt.get_unverified_header(user.access_token)["kid"] == jwks["keys"][0]["kid"]


async def test_user_in_two_orgs_picks_one_per_token(client, make_user):
    owner = await make_user()
    other = await make_user()
    await add_member(client, owner, other)
    login = await client.post("/api/v1/auth/login", json={
        "email": other.email, "password": other.password,
        "organization_id": owner.organization_id,
    })
    assert login.status_code == 200, login.text
    assert login.json()["role"] == "member"
    token = login.json()["access_token"]
    me = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json()["organization_id"] == owner.organization_id
    assert len(me.json()["memberships"]) == 2
    stranger = await client.post("/api/v1/auth/login", json={
        "email": other.email, "password": other.password, "organization_id": str(uuid.uuid4()),
    })
    assert stranger.status_code == 404
