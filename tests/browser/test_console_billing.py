"""The Billing page in a real browser: the plan, minutes used this period against the
included ones (GET /api/v1/billing), the plans on offer (GET /api/v1/plans); without a
payment integration on the server, no Checkout/Portal buttons and a note saying why. The
Usage page: estimated cost from PRICING, and Export CSV downloading the server's CSV."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from uuid import UUID

import pytest

from db import calls as calls_db
from db import usage as usage_db
from db.calls import CallStatus
from tests.browser.test_console_session import sign_in

pytestmark = [pytest.mark.realtime, pytest.mark.timeout(120)]


async def test_billing_page_shows_plan_minutes_and_plans(server, client, make_user, open_browser):
    from playwright.async_api import expect

    user = await make_user(organization_name=f"Billing {uuid.uuid4().hex[:6]}")
    billing = (await client.get("/api/v1/billing", headers=user.headers)).json()
    # a finished 90 s call this period: 2 billable minutes (rounded up per call)
    call = await calls_db.create(
        server.services.db, UUID(user.organization_id), workflow_id=None, workflow_version=None,
        channel="webrtc", direction="browser", from_number=None, to_number=None,
        status="in-progress", carrier=None, carrier_call_id=None, test=False, variables={},
        metadata={},
    )  # fmt: skip
    await calls_db.finalize(server.services.db, call["id"], status=CallStatus.COMPLETED,
                            end_reason="caller_hangup", ended_at=datetime.now(UTC),
                            duration_seconds=90.0)  # fmt: skip
    await usage_db.upsert_for_call(server.services.db, UUID(user.organization_id), call["id"],
                                   None, [("call_seconds", "webrtc", "", 90.0)])  # fmt: skip
    expected = (await client.get("/api/v1/billing", headers=user.headers)).json()["minutes"]["used"]
    assert expected == 2

    page, watch = await open_browser()
    await sign_in(page, server.url, user.email, user.password)
    await page.get_by_role("link", name="Billing").click()
    await expect(page.get_by_role("heading", name="Billing")).to_be_visible()
    await expect(page.get_by_test_id("plan")).to_contain_text(billing["plan"]["display_name"])
    await expect(page.get_by_test_id("minutes-used")).to_have_text(str(expected))
    meter = page.get_by_role("meter", name="Minutes used this period")
    await expect(meter).to_have_attribute("aria-valuenow", str(expected))
    plans = (await client.get("/api/v1/plans", headers=user.headers)).json()["plans"]
    for plan in plans:
        await expect(page.get_by_label(f"Plan {plan['display_name']}")).to_be_visible()
    # no STRIPE_API_KEY on the test server: the payment routes exist but are not offered (and
    # not called: an invoices request would answer 409 billing_disabled)
    assert billing["payments"] is False
    await expect(page.get_by_text("Payments are not configured on this server")).to_be_visible()
    await expect(page.get_by_role("button", name="Choose")).to_have_count(0)
    await expect(page.get_by_role("heading", name="Invoices")).to_have_count(0)
    watch.check()


async def test_usage_page_shows_cost_and_exports_the_servers_csv(server, client, make_user,
                                                                  open_browser, monkeypatch):  # fmt: skip
    from playwright.async_api import expect

    from server.pricing import Pricing

    monkeypatch.setattr(server.services.settings, "pricing", Pricing.model_validate(
        {"currency": "EUR", "providers": {"webrtc": {"carrier_per_minute": 1.5}}}))  # fmt: skip
    user = await make_user(organization_name=f"Usage {uuid.uuid4().hex[:6]}")
    call = await calls_db.create(
        server.services.db, UUID(user.organization_id), workflow_id=None, workflow_version=None,
        channel="webrtc", direction="browser", from_number=None, to_number=None,
        status="completed", carrier=None, carrier_call_id=None, test=False, variables={},
        metadata={},
    )  # fmt: skip
    await usage_db.upsert_for_call(server.services.db, UUID(user.organization_id), call["id"],
                                   None, [("call_seconds", "webrtc", "", 120.0)])  # fmt: skip
    page, watch = await open_browser()
    await sign_in(page, server.url, user.email, user.password)
    await page.get_by_role("link", name="Usage").click()
    await expect(page.get_by_test_id("usage-cost")).to_contain_text("3.00")
    await expect(page.get_by_test_id("usage-cost")).to_contain_text("€")
    async with page.expect_download() as info:
        await page.get_by_role("button", name="Export CSV").click()
    download = await info.value
    lines = (await download.path()).read_text().splitlines()
    assert lines[0] == "group,kind,provider,model,quantity,unit,cost,currency"
    assert lines[1].endswith(",call_seconds,webrtc,,120,second,3.000000,EUR")
    await page.goto(f"{server.url}/calls/{call['id']}")
    await expect(page.get_by_test_id("call-cost")).to_contain_text("3.00")
    watch.check()
