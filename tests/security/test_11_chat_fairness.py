"""Finding 11 (chat part): chat sessions were capped only per process (one organization
could take all 1,000), ignored a suspended plan, and kept history without bound."""

from __future__ import annotations

import pytest

from db import organizations as orgs_db
from runtime.templates import order_desk
from server.routes.workflow_chat import MAX_CHAT_SESSIONS_PER_ORG, MAX_CHAT_TURNS

pytestmark = pytest.mark.integration


async def _workflow(client, user) -> str:
    r = await client.post("/api/v1/workflows", json={"name": "w", "definition": order_desk()},
                          headers=user.headers)
    return r.json()["id"]


async def test_chat_sessions_are_capped_per_organization(client, make_user):
    greedy, other = await make_user(), await make_user()
    url = f"/api/v1/workflows/{await _workflow(client, greedy)}/chat"
    for _ in range(MAX_CHAT_SESSIONS_PER_ORG):
        assert (await client.post(url, json={}, headers=greedy.headers)).status_code == 200
    refused = await client.post(url, json={}, headers=greedy.headers)
    assert refused.status_code == 429 and "retry-after" in refused.headers
    # Another organization is not affected.
    other_url = f"/api/v1/workflows/{await _workflow(client, other)}/chat"
    assert (await client.post(other_url, json={}, headers=other.headers)).status_code == 200


async def test_a_suspended_plan_cannot_chat(client, make_user, server):
    user = await make_user()
    url = f"/api/v1/workflows/{await _workflow(client, user)}/chat"
    sid = (await client.post(url, json={}, headers=user.headers)).json()["session_id"]
    await orgs_db.set_plan(server.services.db, user.organization_id, "suspended")
    for body in ({}, {"session_id": sid, "message": "an order"}):
        r = await client.post(url, json=body, headers=user.headers)
        assert r.status_code == 403 and r.json()["error"]["code"] == "plan_suspended"


async def test_a_chat_session_holds_a_bounded_number_of_turns(client, make_user):
    user = await make_user()
    url = f"/api/v1/workflows/{await _workflow(client, user)}/chat"
    sid = (await client.post(url, json={}, headers=user.headers)).json()["session_id"]
    for _ in range(MAX_CHAT_TURNS):
        r = await client.post(url, json={"session_id": sid, "message": "hmm"},
                              headers=user.headers)
        assert r.status_code == 200, r.text
    r = await client.post(url, json={"session_id": sid, "message": "hmm"}, headers=user.headers)
    assert r.status_code == 409 and r.json()["error"]["code"] == "chat_too_long"
