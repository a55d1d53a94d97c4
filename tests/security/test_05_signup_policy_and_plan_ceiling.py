"""Finding 5 (identity half): any admin raised their own max_concurrent_calls up to 10,000
and sign-up was always open. The ceiling now comes from the organization's plan (set by
operators), admins may only lower it; SIGNUP_POLICY is open | invite_only | closed."""

from __future__ import annotations

import uuid

import pytest

from server.billing.plans import UnknownPlan, builtin_catalog, change_plan, concurrent_call_limit
from server.settings import load_settings
from tests.security.identity_servers import serve, signup

pytestmark = pytest.mark.integration


async def test_admin_cannot_raise_the_limit_past_the_plan(client, make_user, server):
    owner = await make_user()
    r = await client.patch("/api/v1/organization", json={"max_concurrent_calls": 10_000},
                           headers=owner.headers)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["details"][0]["pointer"] == "/body/max_concurrent_calls"
    plans = server.services.plans
    ceiling = plans.get("free").max_concurrent_calls
    assert (await client.patch("/api/v1/organization", json={"max_concurrent_calls": ceiling + 1},
                               headers=owner.headers)).status_code == 422
    lowered = await client.patch("/api/v1/organization", json={"max_concurrent_calls": 2},
                                 headers=owner.headers)
    assert lowered.status_code == 200 and lowered.json()["max_concurrent_calls"] == 2

    # Operators move the organization to a bigger plan: the ceiling (and limit) follow.
    org_id = uuid.UUID(owner.organization_id)
    row = await change_plan(server.services.db, org_id, "pro", catalog=plans)
    assert row["plan"] == "pro" and row["max_concurrent_calls"] == plans.get("pro").max_concurrent_calls
    assert (await client.patch("/api/v1/organization", json={"max_concurrent_calls": 40},
                               headers=owner.headers)).status_code == 200
    suspended = await change_plan(server.services.db, org_id, "suspended", catalog=plans)
    assert concurrent_call_limit(suspended, plans) == 0
    assert (await client.patch("/api/v1/organization", json={"max_concurrent_calls": 1},
                               headers=owner.headers)).status_code == 422
    with pytest.raises(UnknownPlan):
        await change_plan(server.services.db, org_id, "unlimited", catalog=plans)


def test_effective_limit_never_exceeds_the_plan():
    plans = builtin_catalog()
    assert concurrent_call_limit({"plan": "free", "max_concurrent_calls": 10_000}, plans) == 10
    assert concurrent_call_limit({"plan": "retired-plan", "max_concurrent_calls": 99}, plans) == 10
    assert concurrent_call_limit({"plan": "scale", "max_concurrent_calls": 7}, plans) == 7
    assert concurrent_call_limit({"plan": "suspended", "max_concurrent_calls": 7}, plans) == 0


def test_signup_policy_defaults():
    assert load_settings(_env_file=None, env="development").effective_signup_policy == "open"
    prod = load_settings(_env_file=None, env="production", public_url="https://voice.example.com")
    assert prod.effective_signup_policy == "invite_only"


async def test_invite_only_needs_an_invitation(database_url, data_dir, make_user, client):
    owner = await make_user()
    email = f"inv-{uuid.uuid4().hex[:8]}@example.com"
    token = (await client.post("/api/v1/organization/members", json={"email": email},
                               headers=owner.headers)).json()["invite_token"]
    async with serve(database_url, data_dir, signup_policy="invite_only") as (_, http):
        r = await http.post("/api/v1/auth/signup",
                            json={"email": f"x-{email}", "password": "correct horse battery"})
        assert r.status_code == 403 and r.json()["error"]["code"] == "signup_closed"
        joined = await signup(http, email=email, invite_token=token)
        assert joined.organization_id == owner.organization_id


async def test_operators_choose_the_plan_of_new_organizations(database_url, data_dir):
    async with serve(database_url, data_dir, default_plan="scale") as (_, http):
        owner = await signup(http)
        org = (await http.get("/api/v1/organization", headers=owner.headers)).json()
        assert org["plan"] == "scale"
        assert org["max_concurrent_calls"] == org["plan_max_concurrent_calls"] == 500


async def test_closed_refuses_every_signup(database_url, data_dir):
    async with serve(database_url, data_dir, signup_policy="closed") as (_, http):
        r = await http.post("/api/v1/auth/signup", json={
            "email": f"c-{uuid.uuid4().hex[:8]}@example.com", "password": "correct horse battery",
            "invite_token": "inv_whatever"})  # fmt: skip
        assert r.status_code == 403 and r.json()["error"]["code"] == "signup_closed"
