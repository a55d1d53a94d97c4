"""Automated accessibility audit: axe-core (vendored, tests/browser/vendor) on every console
page, light at 1280 px and dark at 390 px, and the other way round. A serious or critical
violation fails the test, listing each rule and the elements it found."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID

import pytest

from db import calls as calls_db
from db import usage as usage_db
from db.calls import CallStatus
from tests.browser.test_console_session import sign_in
from tests.realtime.pipeline.test_pipeline_call import WORKFLOW
from tests.realtime.server.test_webrtc_calls import publish_workflow

pytestmark = [pytest.mark.realtime, pytest.mark.timeout(600)]
AXE = (Path(__file__).parent / "vendor" / "axe.min.js").read_text()
AXE_LOADER = "() => { " + AXE + "\n; return typeof window.axe; }"
FAILING = ("serious", "critical")
PUBLIC_PAGES = ["/signin", "/signup"]
PAGES = ["/home", "/workflows", "/workflows/new", "/workflows/{workflow}", "/test", "/calls",
         "/calls/{call}", "/live", "/usage", "/billing", "/settings/keys", "/settings/members",
         "/settings/providers", "/settings/telephony", "/settings/webhooks", "/settings/secrets",
         "/settings/audit", "/settings/account", "/campaigns", "/campaigns/new", "/campaigns/{campaign}",
         "/campaigns/do-not-call"]  # fmt: skip


async def _ended_call(server, org: str, workflow_id: str) -> str:
    db = server.services.db
    call = await calls_db.create(
        db, UUID(org), workflow_id=UUID(workflow_id), workflow_version=1, channel="webrtc",
        direction="browser", from_number=None, to_number=None, status="in-progress",
        carrier=None, carrier_call_id=None, test=False, variables={"name": "Ada"}, metadata={},
    )  # fmt: skip
    now = datetime.now(UTC)
    await calls_db.insert_turns(db, UUID(org), call["id"], [
        {"idx": 0, "speaker": "agent", "text": "Hello, this is Acme.", "started_at": now,
         "ended_at": now, "interrupted": False},
        {"idx": 1, "speaker": "user", "text": "Where is my order?", "started_at": now,
         "ended_at": now, "interrupted": True},
        {"idx": 2, "speaker": "agent", "text": "It shipped.", "started_at": now, "ended_at": now,
         "interrupted": False, "stt_final_ms": 120.0, "agent_first_token_ms": 300.0,
         "tts_first_audio_ms": 420.0, "first_audio_out_ms": 450.0},
    ])  # fmt: skip
    await calls_db.finalize(db, call["id"], status=CallStatus.COMPLETED, end_reason="agent_ended")
    await usage_db.upsert_for_call(db, UUID(org), call["id"], UUID(workflow_id),
                                   [("call_seconds", "webrtc", "", 42.0)])  # fmt: skip
    return str(call["id"])


async def _draft_campaign(client, headers: dict[str, str], workflow_id: str) -> str:
    """A draft campaign with two contacts (drafts are not dialed), and a do-not-call entry."""
    credentials = {"account_sid": "AC" + "a" * 32, "auth_token": "a11y-token"}
    body = {"carrier": "twilio", "name": "Main", "credentials": credentials}
    account = await client.post("/api/v1/carriers", headers=headers, json=body)
    assert account.status_code == 201, account.text
    body = {"number": f"+1415555{uuid.uuid4().int % 10000:04d}", "carrier_account_id": account.json()["id"]}
    number = await client.post("/api/v1/phone-numbers", headers=headers, json=body)
    assert number.status_code == 201, number.text
    schedule = {"time_zone": "Europe/Paris", "windows": {"mon": [{"start": "09:00", "end": "18:00"}]}}
    campaign = await client.post("/api/v1/campaigns", headers=headers, json={
        "name": "Reminders", "workflow_id": workflow_id, "variables": {"company": "Acme"},
        "schedule": schedule})  # fmt: skip
    assert campaign.status_code == 201, campaign.text
    contacts = [{"phone_number": "+33123456789"}, {"phone_number": "+442071234567"}]
    added = await client.post(f"/api/v1/campaigns/{campaign.json()['id']}/contacts", headers=headers,
                              json={"contacts": contacts})  # fmt: skip
    assert added.status_code == 200 and added.json()["imported"] == 2, added.text
    listed = await client.post("/api/v1/do-not-call", headers=headers,
                               json={"phone_number": "+14155550199", "reason": "asked"})  # fmt: skip
    assert listed.status_code == 201, listed.text
    return str(campaign.json()["id"])


async def _audit(page) -> list[str]:
    """Serious and critical violations on the page as it is now, one line per element."""
    if not await page.evaluate("typeof window.axe !== 'undefined'"):
        # evaluated through DevTools: the console's CSP (rightly) refuses inline scripts
        await page.evaluate(AXE_LOADER)
    result = await page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {json.dumps(node['target'])}"
        for v in result["violations"] if v["impact"] in FAILING for node in v["nodes"]
    ]  # fmt: skip


async def _settled(page) -> None:
    from playwright.async_api import expect

    await expect(page.locator("h1").first).to_be_visible()
    # nothing still loading ("Loading…", "Connecting…"); waited on without page-side eval,
    # which the console's CSP refuses
    await expect(page.locator("[role=status]", has_text=re.compile(r"…\s*$"))).to_have_count(0)


@pytest.mark.parametrize(("width", "dark"), [(1280, False), (390, True), (1280, True), (390, False)],
                         ids=["1280-light", "390-dark", "1280-dark", "390-light"])  # fmt: skip
async def test_no_serious_accessibility_violations(server, client, make_user, open_browser,
                                                   width, dark) -> None:  # fmt: skip
    user = await make_user(organization_name=f"A11y {uuid.uuid4().hex[:6]}")
    workflow = await publish_workflow(client, user.headers, WORKFLOW)
    call = await _ended_call(server, user.organization_id, workflow)
    campaign = await _draft_campaign(client, user.headers, workflow)
    page, watch = await open_browser(width=width, height=900 if width > 400 else 844, dark=dark)
    found: dict[str, list[str]] = {}
    for path in PUBLIC_PAGES:
        await page.goto(f"{server.url}{path}")
        await _settled(page)
        found[path] = await _audit(page)
    await sign_in(page, server.url, user.email, user.password)
    for path in PAGES:
        await page.goto(f"{server.url}{path.format(workflow=workflow, call=call, campaign=campaign)}")
        await _settled(page)
        found[path] = await _audit(page)
    problems = {path: lines for path, lines in found.items() if lines}
    assert problems == {}, "axe-core found serious/critical violations:\n" + "\n".join(
        f"{path}: {line}" for path, lines in problems.items() for line in lines)  # fmt: skip
    watch.check()
