"""POST /api/v1/auth/switch-organization: a signed-in user moves to another of their
organizations without the password; audited; 404 for an organization they are not in."""

from __future__ import annotations

from tests.members import add_member


async def test_switch_to_a_member_organization(client, make_user):
    owner = await make_user()
    user = await make_user()
    await add_member(client, owner, user, "admin")
    stranger = await make_user()

    switched = await client.post("/api/v1/auth/switch-organization", headers=user.headers,
                                 json={"organization_id": owner.organization_id,
                                       "refresh_token": user.refresh_token})  # fmt: skip
    assert switched.status_code == 200, switched.text
    tokens = switched.json()
    assert (tokens["organization_id"], tokens["role"]) == (owner.organization_id, "admin")
    me = await client.get("/api/v1/auth/me",
                          headers={"Authorization": f"Bearer {tokens['access_token']}"})  # fmt: skip
    assert me.json()["organization_id"] == owner.organization_id
    # the new refresh token works; the one handed in was revoked
    assert (
        await client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    ).status_code == 200
    old = await client.post("/api/v1/auth/refresh", json={"refresh_token": user.refresh_token})
    assert old.status_code == 401

    # audited in the organization switched to, with where from
    log = await client.get("/api/v1/audit-log", params={"action": "user.organization_switched"},
                           headers=owner.headers)  # fmt: skip
    [entry] = log.json()["items"]
    assert entry["details"]["from_organization_id"] == user.organization_id

    # not a member: 404, and nothing issued
    refused = await client.post("/api/v1/auth/switch-organization", headers=user.headers,
                                json={"organization_id": stranger.organization_id})  # fmt: skip
    assert refused.status_code == 404
    bad = await client.post("/api/v1/auth/switch-organization", headers=user.headers,
                            json={"organization_id": "nope"})  # fmt: skip
    assert bad.status_code == 422
    assert bad.json()["error"]["details"][0]["pointer"] == "/body/organization_id"
    assert (
        await client.post("/api/v1/auth/switch-organization", json={"organization_id": owner.organization_id})
    ).status_code == 401


async def test_api_keys_cannot_switch(client, make_user):
    owner = await make_user()
    key = (await client.post("/api/v1/api-keys", json={"name": "ci"}, headers=owner.headers)).json()
    refused = await client.post("/api/v1/auth/switch-organization",
                                headers={"Authorization": f"Bearer {key['key']}"},
                                json={"organization_id": owner.organization_id})  # fmt: skip
    assert refused.status_code == 403
