"""Organization, members, invitations and role checks."""

from __future__ import annotations

from tests.members import add_member


async def _invite(client, owner, email, role="member"):
    return await client.post(
        "/api/v1/organization/members", json={"email": email, "role": role}, headers=owner.headers
    )


async def _login_to(client, user, org_id):
    r = await client.post("/api/v1/auth/login", json={
        "email": user.email, "password": user.password, "organization_id": org_id})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


async def test_get_and_update_organization(client, make_user):
    owner = await make_user(organization_name="First")
    r = await client.get("/api/v1/organization", headers=owner.headers)
    assert r.json()["name"] == "First"
    r = await client.patch("/api/v1/organization", json={"name": "Renamed",
                           "max_concurrent_calls": 3}, headers=owner.headers)
    assert r.status_code == 200, r.text
    assert r.json()["name"] == "Renamed" and r.json()["max_concurrent_calls"] == 3
    assert r.json()["plan"] == "free" and r.json()["plan_max_concurrent_calls"] == 10
    bad = await client.patch("/api/v1/organization", json={"max_concurrent_calls": -1},
                             headers=owner.headers)
    assert bad.status_code == 422
    assert bad.json()["error"]["details"][0]["pointer"] == "/body/max_concurrent_calls"


async def test_invite_new_user_then_signup_joins(client, make_user):
    owner = await make_user()
    email = f"new-{owner.user_id[:8]}@example.com"
    r = await _invite(client, owner, email, "admin")
    assert r.status_code == 202, r.text
    token = r.json()["invite_token"]
    pending = await client.get("/api/v1/organization/invitations", headers=owner.headers)
    assert [i["email"] for i in pending.json()] == [email]

    joined = await make_user(email=email, invite_token=token)
    assert joined.organization_id == owner.organization_id
    me = await client.get("/api/v1/auth/me", headers=joined.headers)
    assert me.json()["role"] == "admin"
    # Single use.
    again = await client.post("/api/v1/auth/signup", json={
        "email": "x" + email, "password": "long enough pw", "invite_token": token})
    assert again.status_code == 400
    assert again.json()["error"]["code"] == "invalid_invitation"


async def test_member_role_limits(client, make_user):
    owner = await make_user()
    member = await make_user()
    headers = await add_member(client, owner, member)

    # Members read but cannot manage.
    assert (await client.get("/api/v1/organization/members", headers=headers)).status_code == 200
    denied = await client.patch("/api/v1/organization", json={"name": "x"}, headers=headers)
    assert denied.status_code == 403
    assert denied.json()["error"]["code"] == "forbidden"
    assert (await client.post("/api/v1/api-keys", json={"name": "k"}, headers=headers)
            ).status_code == 403
    assert (await _invite(client, type("U", (), {"headers": headers})(), "z@example.com")
            ).status_code == 403


async def test_admin_cannot_change_roles_or_grant_owner(client, make_user):
    owner = await make_user()
    admin = await make_user()
    other = await make_user()
    admin_headers = await add_member(client, owner, admin, "admin")
    await add_member(client, owner, other, "member")

    r = await client.patch(f"/api/v1/organization/members/{other.user_id}",
                           json={"role": "admin"}, headers=admin_headers)
    assert r.status_code == 403
    r = await client.post("/api/v1/organization/members",
                          json={"email": "boss@example.com", "role": "owner"},
                          headers=admin_headers)
    assert r.status_code == 403
    # Admin can remove a member but not the owner.
    r = await client.delete(f"/api/v1/organization/members/{owner.user_id}",
                            headers=admin_headers)
    assert r.status_code == 403
    r = await client.delete(f"/api/v1/organization/members/{other.user_id}",
                            headers=admin_headers)
    assert r.status_code == 204
    # The removed member's token stops working at once.
    assert (await client.get("/api/v1/organization", headers=await _login_to(
        client, other, other.organization_id))).status_code == 200
    removed = await client.post("/api/v1/auth/login", json={
        "email": other.email, "password": other.password,
        "organization_id": owner.organization_id})
    assert removed.status_code == 404


async def test_owner_changes_roles_and_last_owner_is_kept(client, make_user):
    owner = await make_user()
    member = await make_user()
    await add_member(client, owner, member)
    r = await client.patch(f"/api/v1/organization/members/{member.user_id}",
                           json={"role": "owner"}, headers=owner.headers)
    assert r.status_code == 200 and r.json()["role"] == "owner"
    r = await client.patch(f"/api/v1/organization/members/{member.user_id}",
                           json={"role": "member"}, headers=owner.headers)
    assert r.status_code == 200
    # Sole owner cannot demote or remove themselves.
    r = await client.patch(f"/api/v1/organization/members/{owner.user_id}",
                           json={"role": "admin"}, headers=owner.headers)
    assert r.status_code == 409 and r.json()["error"]["code"] == "last_owner"
    r = await client.delete(f"/api/v1/organization/members/{owner.user_id}",
                            headers=owner.headers)
    assert r.status_code == 409
    bad_role = await client.patch(f"/api/v1/organization/members/{member.user_id}",
                                  json={"role": "king"}, headers=owner.headers)
    assert bad_role.status_code == 422
    assert bad_role.json()["error"]["details"][0]["pointer"] == "/body/role"
