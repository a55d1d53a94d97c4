"""GET /api/v1/plans and GET /api/v1/billing on the built-in plans; every member reads them;
the usage.threshold webhook goes out at 80 % and 100 % of the included minutes, once per
period and threshold, from the post-call job."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from db import billing as billing_db
from server.billing.alerts import check_usage_thresholds
from server.billing.catalog import Feature
from server.jobs import enqueue_post_call
from tests.integration.server.billing_helpers import add_call_seconds
from tests.integration.server.test_webhooks import Receiver, _wait_for
from tests.members import add_member


async def test_plans_lists_what_can_be_bought(client, make_user) -> None:  # type: ignore[no-untyped-def]
    owner = await make_user()
    r = await client.get("/api/v1/plans", headers=owner.headers)
    assert r.status_code == 200, r.text
    plans = {p["name"]: p for p in r.json()["plans"]}
    assert list(plans) == ["free", "pro", "scale"]  # suspended cannot be bought
    assert plans["free"]["overage"] == "hard_cap" and plans["pro"]["overage"] == "allowed"
    assert plans["free"]["included_minutes"] == 100 and plans["scale"]["max_concurrent_calls"] == 500
    assert set(plans["pro"]) >= {"display_name", "stripe_price_id", "stripe_metered_price_id",
                                 "max_workflows", "max_phone_numbers", "features"}  # fmt: skip
    assert sorted(plans["pro"]["features"]) == sorted(f.value for f in Feature)
    assert (await client.get("/api/v1/plans")).status_code == 401


async def test_billing_shows_plan_period_minutes_limits(client, make_user, server) -> None:  # type: ignore[no-untyped-def]
    owner = await make_user()
    org = UUID(owner.organization_id)
    await add_call_seconds(server.services.db, org, 61)  # 2 minutes (rounded up per call)
    await add_call_seconds(server.services.db, org, 60)  # 1 minute
    await client.post("/api/v1/workflows", headers=owner.headers, json={"name": "one"})
    member = await make_user()
    member_headers = await add_member(client, owner, member, role="member")

    r = await client.get("/api/v1/billing", headers=member_headers)
    assert r.status_code == 200, r.text
    billing = r.json()
    assert billing["plan"]["name"] == "free"
    now = datetime.now(UTC)
    start = datetime.fromisoformat(billing["period"]["start"])
    end = datetime.fromisoformat(billing["period"]["end"])
    assert start == now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    assert start <= now < end and (end - start) >= timedelta(days=28)
    minutes = billing["minutes"]
    assert (minutes["used"], minutes["included"], minutes["remaining"]) == (3, 100, 97)
    assert minutes["overage"] == 0 and minutes["projected_overage"] == 0  # hard cap
    assert minutes["projected"] >= 3
    assert billing["limits"] == {"max_concurrent_calls": 10, "plan_max_concurrent_calls": 10,
                                 "max_workflows": 10, "workflows": 1, "max_phone_numbers": 3,
                                 "phone_numbers": 0}  # fmt: skip
    assert billing["features"] == {"recording": True, "campaigns": True,
                                   "bring_your_own_keys": True, "cloud_providers": True}  # fmt: skip
    assert billing["subscription"] is None

    # a stored period (a subscription's) counts only the usage inside it
    await asyncio.sleep(0.01)
    now = datetime.now(UTC)
    await billing_db.set_billing_period(server.services.db, org, now, now + timedelta(days=30))
    billing = (await client.get("/api/v1/billing", headers=owner.headers)).json()
    assert billing["minutes"]["used"] == 0
    assert datetime.fromisoformat(billing["period"]["end"]) > now + timedelta(days=29)


async def test_projected_overage_on_a_plan_that_allows_it(client, make_user, server) -> None:  # type: ignore[no-untyped-def]
    owner = await make_user()
    org = UUID(owner.organization_id)
    await server.services.db.execute("UPDATE organizations SET plan = 'pro' WHERE id = $1", org)
    now = datetime.now(UTC)
    # the period is half over and 1,500 of 2,000 minutes are used: 3,000 projected
    await billing_db.set_billing_period(server.services.db, org, now - timedelta(days=15),
                                        now + timedelta(days=15))  # fmt: skip
    await add_call_seconds(server.services.db, org, 1_500 * 60)
    minutes = (await client.get("/api/v1/billing", headers=owner.headers)).json()["minutes"]
    assert minutes["used"] == 1_500 and minutes["overage"] == 0
    assert 2_990 <= minutes["projected"] <= 3_010
    assert minutes["projected_overage"] == minutes["projected"] - 2_000


async def _threshold_deliveries(pool: Any, org: UUID) -> list[dict[str, Any]]:
    rows = await pool.fetch("""SELECT payload FROM webhook_deliveries
                                WHERE organization_id = $1 AND event = 'usage.threshold'
                                ORDER BY created_at""", org)  # fmt: skip
    return [json.loads(r["payload"]) if isinstance(r["payload"], str) else r["payload"] for r in rows]


async def test_usage_threshold_webhook_once_per_period(client, make_user, server) -> None:  # type: ignore[no-untyped-def]
    owner = await make_user()
    org = UUID(owner.organization_id)
    pool = server.services.db
    async with Receiver(failures=0) as receiver:
        r = await client.post("/api/v1/webhooks", headers=owner.headers, json={
            "url": f"{receiver.http_url}/hook", "events": ["usage.threshold"]})  # fmt: skip
        assert r.status_code == 201, r.text

        # 79 of 100 minutes: nothing
        call = await add_call_seconds(pool, org, 79 * 60)
        await check_usage_thresholds(server.services, {"organization_id": org, "payload": {}})
        assert await _threshold_deliveries(pool, org) == []

        # 80 minutes: the post-call job queues the usage check; the 80 % alert goes out
        call = await add_call_seconds(pool, org, 60)
        await enqueue_post_call(server.services, org, call)
        await _wait_for(lambda: _has(receiver, 1))
        event = json.loads(receiver.delivered("usage.threshold")[0]["body"])
        assert event["type"] == "usage.threshold"
        assert event["data"]["threshold_percent"] == 80 and event["data"]["minutes_used"] == 80
        assert event["data"]["included_minutes"] == 100 and event["data"]["plan"] == "free"

        # 100 minutes: the 100 % alert, once however many checks race; later checks add none
        call = await add_call_seconds(pool, org, 20 * 60)
        job = {"organization_id": org, "payload": {"call_id": str(call)}}
        await asyncio.gather(*(check_usage_thresholds(server.services, job) for _ in range(5)))
        await _wait_for(lambda: _has(receiver, 2))
        await add_call_seconds(pool, org, 5 * 60)
        await check_usage_thresholds(server.services, job)
        sent = await _threshold_deliveries(pool, org)
        assert [d["data"]["threshold_percent"] for d in sent] == [80, 100]

        # a new period alerts again
        await asyncio.sleep(0.01)
        now = datetime.now(UTC)
        await billing_db.set_billing_period(pool, org, now, now + timedelta(days=30))
        call = await add_call_seconds(pool, org, 85 * 60)
        await check_usage_thresholds(server.services, {"organization_id": org, "payload": {}})
        sent = await _threshold_deliveries(pool, org)
        assert [d["data"]["threshold_percent"] for d in sent] == [80, 100, 80]
        await _wait_for(lambda: _has(receiver, 3))


async def _has(receiver: Receiver, count: int) -> bool:
    return len(receiver.delivered("usage.threshold")) >= count
