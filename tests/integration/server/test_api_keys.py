"""API key lifecycle: create (shown once), list (prefix only), authenticate, revoke."""

from __future__ import annotations


async def test_api_key_lifecycle(client, make_user, server):
    owner = await make_user()
    created = await client.post("/api/v1/api-keys", json={"name": "backend"}, headers=owner.headers)
    assert created.status_code == 201, created.text
    key = created.json()["key"]
    assert key.startswith("sk_") and key.startswith(created.json()["prefix"])

    listed = await client.get("/api/v1/api-keys", headers=owner.headers)
    assert listed.status_code == 200
    [row] = listed.json()
    assert "key" not in row and row["prefix"] == created.json()["prefix"]
    # Stored hashed: the secret is nowhere in the table.
    stored = await server.services.db.fetch("SELECT * FROM api_keys WHERE id = $1",
                                            __import__("uuid").UUID(row["id"]))
    assert key.encode() not in repr(dict(stored[0])).encode()

    me = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {key}"})
    assert me.status_code == 200, me.text
    assert me.json()["auth"] == "api_key"
    assert me.json()["organization_id"] == owner.organization_id
    assert me.json()["role"] == "admin"

    revoked = await client.delete(f"/api/v1/api-keys/{row['id']}", headers=owner.headers)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    me = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {key}"})
    assert me.status_code == 401


async def test_member_role_api_key_cannot_manage(client, make_user):
    owner = await make_user()
    created = await client.post("/api/v1/api-keys", json={"name": "ro", "role": "member"},
                                headers=owner.headers)
    key = created.json()["key"]
    headers = {"Authorization": f"Bearer {key}"}
    assert (await client.get("/api/v1/organization", headers=headers)).status_code == 200
    assert (await client.post("/api/v1/api-keys", json={"name": "x"}, headers=headers)
            ).status_code == 403


async def test_unknown_and_malformed_keys(client):
    for token in ("sk_nope", "sk_", "garbage", "Bearer"):
        r = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 401, token
    r = await client.get("/api/v1/auth/me", headers={"Authorization": "Basic abc"})
    assert r.status_code == 401
