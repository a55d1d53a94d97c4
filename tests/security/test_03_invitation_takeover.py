"""Finding 3: inviting an email that already has an account added it at once (201 with its
name and id), so an attacker who pre-registered new.hire@victim.com joined silently, and any
admin could test whether an email is registered. Invitations now always need acceptance by
the invited user, and the answer is the same whether or not the email has an account."""

from __future__ import annotations

import uuid

import pytest

pytestmark = pytest.mark.integration


async def _invite(client, owner, email, role="member"):
    return await client.post("/api/v1/organization/members",
                             json={"email": email, "role": role}, headers=owner.headers)


async def test_preregistered_email_is_not_added_by_an_invitation(client, make_user):
    victim_admin = await make_user()
    attacker = await make_user(email=f"new.hire-{uuid.uuid4().hex[:6]}@victim.example.com")

    r = await _invite(client, victim_admin, attacker.email, "admin")
    assert r.status_code == 202, r.text
    members = await client.get("/api/v1/organization/members", headers=victim_admin.headers)
    assert attacker.user_id not in [m["user_id"] for m in members.json()]
    login = await client.post("/api/v1/auth/login", json={
        "email": attacker.email, "password": attacker.password,
        "organization_id": victim_admin.organization_id})  # fmt: skip
    assert login.status_code == 404  # not a member: nothing happened without acceptance


async def test_answer_does_not_reveal_whether_the_email_is_registered(client, make_user):
    admin = await make_user()
    registered = await make_user()
    unknown = f"nobody-{uuid.uuid4().hex[:8]}@example.com"

    for_registered = await _invite(client, admin, registered.email)
    for_unknown = await _invite(client, admin, unknown)
    assert for_registered.status_code == for_unknown.status_code == 202
    a, b = for_registered.json(), for_unknown.json()
    assert a.keys() == b.keys() and a["status"] == b["status"] == "invited"
    assert a["invitation"].keys() == b["invitation"].keys()
    text = for_registered.text
    assert registered.user_id not in text and "member" not in a  # no id, no member record


async def test_the_invited_user_joins_only_by_accepting_with_the_token(client, make_user):
    admin = await make_user()
    invitee = await make_user()
    other = await make_user()
    token = (await _invite(client, admin, invitee.email, "admin")).json()["invite_token"]

    # Someone else signed in cannot use it (the invitation is bound to the invited email).
    stolen = await client.post("/api/v1/invitations/accept", json={"invite_token": token},
                               headers=other.headers)
    assert stolen.status_code == 400 and stolen.json()["error"]["code"] == "invalid_invitation"

    ok = await client.post("/api/v1/invitations/accept", json={"invite_token": token},
                           headers=invitee.headers)
    assert ok.status_code == 200, ok.text
    assert ok.json() == {"organization_id": admin.organization_id, "role": "admin"}
    login = await client.post("/api/v1/auth/login", json={
        "email": invitee.email, "password": invitee.password,
        "organization_id": admin.organization_id})  # fmt: skip
    assert login.status_code == 200 and login.json()["role"] == "admin"
    again = await client.post("/api/v1/invitations/accept", json={"invite_token": token},
                              headers=invitee.headers)
    assert again.status_code == 400  # single use
