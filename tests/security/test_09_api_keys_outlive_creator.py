"""Finding 9: API keys outlived their creator (a removed admin kept admin access through the
keys they made). Rule: a key belongs to the member who made it; removing them revokes their
keys, demoting them below the key's role revokes those keys, and every use re-checks it."""

from __future__ import annotations

import pytest

from tests.members import add_member

pytestmark = pytest.mark.integration


async def _key(client, headers, role="admin"):
    r = await client.post("/api/v1/api-keys", json={"name": f"{role} key", "role": role},
                          headers=headers)
    assert r.status_code == 201, r.text
    return r.json()["id"], {"Authorization": f"Bearer {r.json()['key']}"}


async def test_removed_admin_loses_the_keys_they_made(client, make_user):
    owner = await make_user()
    admin = await make_user()
    admin_headers = await add_member(client, owner, admin, "admin")
    key_id, key = await _key(client, admin_headers)
    # A key minted with that key belongs to the same person.
    _, child = await _key(client, key, "member")
    assert (await client.get("/api/v1/api-keys", headers=key)).status_code == 200

    r = await client.delete(f"/api/v1/organization/members/{admin.user_id}", headers=owner.headers)
    assert r.status_code == 204
    for headers in (key, child):
        assert (await client.get("/api/v1/organization", headers=headers)).status_code == 401
    listed = {k["id"]: k for k in (await client.get("/api/v1/api-keys",
                                                    headers=owner.headers)).json()}
    assert listed[key_id]["revoked_at"] is not None
    assert listed[key_id]["created_by"] == admin.user_id


async def test_demoted_admin_loses_admin_keys_but_keeps_member_keys(client, make_user):
    owner = await make_user()
    admin = await make_user()
    admin_headers = await add_member(client, owner, admin, "admin")
    _, admin_key = await _key(client, admin_headers, "admin")
    _, member_key = await _key(client, admin_headers, "member")

    r = await client.patch(f"/api/v1/organization/members/{admin.user_id}",
                           json={"role": "member"}, headers=owner.headers)
    assert r.status_code == 200, r.text
    assert (await client.get("/api/v1/organization", headers=admin_key)).status_code == 401
    assert (await client.get("/api/v1/organization", headers=member_key)).status_code == 200
    # Promoting again does not bring a revoked key back.
    await client.patch(f"/api/v1/organization/members/{admin.user_id}", json={"role": "admin"},
                       headers=owner.headers)
    assert (await client.get("/api/v1/organization", headers=admin_key)).status_code == 401


async def test_key_of_a_member_removed_outside_the_api_stops_working(client, make_user, server):
    owner = await make_user()
    admin = await make_user()
    admin_headers = await add_member(client, owner, admin, "admin")
    _, key = await _key(client, admin_headers)
    # Even if the membership disappears without the API (SQL, a future code path), the key
    # is re-checked on every use.
    await server.services.db.execute(
        "UPDATE memberships SET role = 'member' WHERE user_id = $1::uuid "
        "AND organization_id = $2::uuid", admin.user_id, owner.organization_id)
    assert (await client.get("/api/v1/organization", headers=key)).status_code == 401
