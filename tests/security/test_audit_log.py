"""The audit log: keys created/revoked, members invited/joined/removed/role changed,
credentials and secrets changed, plan changes; GET /api/v1/audit-log for admins, paged,
scoped to the caller's organization."""

from __future__ import annotations

import uuid

import pytest

from server import audit
from server.billing.plans import change_plan
from tests.members import add_member

pytestmark = pytest.mark.integration


async def _all(client, headers, **params):
    items, cursor = [], None
    while True:
        query = {**params, "limit": 2, **({"cursor": cursor} if cursor else {})}
        r = await client.get("/api/v1/audit-log", params=query, headers=headers)
        assert r.status_code == 200, r.text
        items += r.json()["items"]
        cursor = r.json()["next_cursor"]
        if cursor is None:
            return items


async def test_changes_are_recorded_newest_first_and_paged(client, make_user, server):
    owner = await make_user()
    admin = await make_user()
    key = (await client.post("/api/v1/api-keys", json={"name": "ci"}, headers=owner.headers)).json()
    await client.delete(f"/api/v1/api-keys/{key['id']}", headers=owner.headers)
    await add_member(client, owner, admin, "admin")
    await client.patch(f"/api/v1/organization/members/{admin.user_id}", json={"role": "member"},
                       headers=owner.headers)
    await client.put("/api/v1/tool-secrets/crm_token", json={"value": "s3cret-value-123"},
                     headers=owner.headers)
    await client.put("/api/v1/provider-credentials/deepgram", json={"api_key": "dg-key-123456"},
                     headers=owner.headers)
    await change_plan(server.services.db, uuid.UUID(owner.organization_id), "pro",
                      catalog=server.services.plans)
    await client.delete(f"/api/v1/organization/members/{admin.user_id}", headers=owner.headers)

    entries = await _all(client, owner.headers)
    actions = [e["action"] for e in entries]
    assert actions == [
        "member.removed", "organization.plan_changed", "provider_credential.set",
        "tool_secret.set", "member.role_changed", "member.joined", "member.invited",
        "api_key.revoked", "api_key.created",
    ]
    created = entries[-1]
    assert created["actor_user_id"] == owner.user_id and created["target_id"] == key["id"]
    assert created["ip"] == "127.0.0.1"
    joined = entries[5]
    assert joined["actor_user_id"] == admin.user_id  # the invited user accepted
    assert entries[1]["actor_user_id"] is None and entries[1]["details"] == {"plan": "pro"}
    assert "s3cret" not in str(entries) and "dg-key" not in str(entries)  # never secrets
    only = await _all(client, owner.headers, action="api_key.created")
    assert [e["action"] for e in only] == ["api_key.created"]


async def test_admins_only_and_organization_scoped(client, make_user):
    owner = await make_user()
    stranger = await make_user()
    member = await make_user()
    member_headers = await add_member(client, owner, member)
    await client.post("/api/v1/api-keys", json={"name": "x"}, headers=owner.headers)
    assert (await client.get("/api/v1/audit-log", headers=member_headers)).status_code == 403
    theirs = await client.get("/api/v1/audit-log", headers=stranger.headers)
    assert theirs.status_code == 200 and theirs.json()["items"] == []
    bad = await client.get("/api/v1/audit-log", params={"cursor": "nonsense"},
                           headers=owner.headers)
    assert bad.status_code == 400
    assert (await client.get("/api/v1/audit-log", params={"action": "nope"},
                             headers=owner.headers)).status_code == 422


def test_every_action_name_is_stable_and_unique():
    values = [a.value for a in audit.AuditAction]
    assert len(values) == len(set(values))
    assert all("." in v for v in values)


async def test_workflow_publish_rollback_and_carrier_accounts_are_recorded(client, make_user):
    owner = await make_user()
    h = owner.headers
    created = await client.post("/api/v1/workflows", json={"name": "Audited"}, headers=h)
    assert created.status_code == 201, created.text
    wf = created.json()["id"]
    assert (await client.post(f"/api/v1/workflows/{wf}/publish", json={}, headers=h)).status_code == 201
    draft = created.json()["definition"]
    draft["nodes"][0]["greeting"] = "Hello again, this is the second version."
    changed = await client.patch(f"/api/v1/workflows/{wf}", json={"definition": draft}, headers=h)
    assert changed.status_code == 200, changed.text
    second = await client.post(f"/api/v1/workflows/{wf}/publish", json={}, headers=h)
    assert second.status_code == 201, second.text
    rolled = await client.post(f"/api/v1/workflows/{wf}/rollback", json={"version": 1}, headers=h)
    assert rolled.status_code == 200, rolled.text
    creds = {"account_sid": "AC" + "0" * 32, "auth_token": "secret-token-123"}
    account = await client.post("/api/v1/carriers", headers=h,
                                json={"carrier": "twilio", "name": "main", "credentials": creds})
    assert account.status_code == 201, account.text
    acct = account.json()["id"]
    assert (await client.patch(f"/api/v1/carriers/{acct}", json={"name": "renamed"},
                               headers=h)).status_code == 200
    assert (await client.delete(f"/api/v1/carriers/{acct}", headers=h)).status_code == 204

    entries = await _all(client, h)
    assert [e["action"] for e in entries[:6]] == [
        "carrier_account.deleted", "carrier_account.updated", "carrier_account.created",
        "workflow.rolled_back", "workflow.published", "workflow.published",
    ]
    assert entries[3]["details"] == {"version": 1} and entries[3]["target_id"] == wf
    assert entries[4]["details"] == {"version": 2}
    assert entries[1]["details"] == {"credentials_replaced": False}
    assert "secret-token" not in str(entries)
