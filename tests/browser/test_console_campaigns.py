"""Campaigns in the console, in a real browser, against a server that really dials (the fake
Twilio REST API and its status callbacks play each number's scripted outcome): an admin puts
a number on the do-not-call list, creates a campaign through the form (the API's 422 details
shown at their fields first), uploads a CSV with good and bad rows and reads the row report,
adds a contact as JSON, starts, pauses and resumes the campaign while the page follows its
progress, filters the contacts, opens an attempt's call and downloads the results. A member
sees the same progress and contacts without any control. No request leaves 127.0.0.1 and
the browser logs no errors (but the 422 the form was built to show).

The module runs its own server on its own database: every instance dispatches every running
campaign of its database (see tests/integration/server/campaign_carrier.py)."""

from __future__ import annotations

import csv
import io
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.browser.conftest import screenshot
from tests.browser.test_console_a11y import _audit
from tests.browser.test_console_session import sign_in
from tests.conftest import LiveServer
from tests.fakes.carriers.twilio_rest import FakeTwilioRest
from tests.integration.server.campaign_carrier import (
    SID,
    TOKEN,
    WORKFLOW,
    ScriptedCarrier,
    carrier,
    instance,
    own_database_url,  # noqa: F401  (this module's own database)
)

pytestmark = [pytest.mark.realtime, pytest.mark.timeout(180)]
PASSWORD = "correct horse battery"
# the browser logs the API's 422 and 400 answers, which the pages then show at their fields
REFUSED = ("status of 422", "status of 400")


@dataclass
class Env:
    live: LiveServer
    http: httpx.AsyncClient
    carrier: ScriptedCarrier
    fake: FakeTwilioRest


@dataclass
class Admin:
    email: str
    headers: dict[str, str]
    workflow_id: str
    numbers: list[str]


@pytest.fixture(scope="module")
async def env(database_url: str, data_dir: Any) -> AsyncIterator[Env]:
    async with FakeTwilioRest(SID, TOKEN) as fake, instance(database_url, data_dir, fake) as live, \
            httpx.AsyncClient(base_url=live.url, timeout=30) as http, \
            carrier(fake, live.url, live.services.db) as scripted:  # fmt: skip
        yield Env(live, http, scripted, fake)


async def _admin(http: httpx.AsyncClient) -> Admin:
    """A new organization with a published workflow, a Twilio account and two numbers."""
    email = f"camp-ui-{uuid.uuid4().hex[:8]}@example.com"
    r = await http.post("/api/v1/auth/signup", json={"email": email, "password": PASSWORD,
                                                     "organization_name": "Reminders Inc"})  # fmt: skip
    assert r.status_code == 201, r.text
    headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
    wf = await http.post("/api/v1/workflows", headers=headers,
                         json={"name": "Visit reminder", "definition": WORKFLOW})  # fmt: skip
    assert wf.status_code == 201, wf.text
    workflow_id = wf.json()["id"]
    pub = await http.post(f"/api/v1/workflows/{workflow_id}/publish", json={}, headers=headers)
    assert pub.status_code == 201, pub.text
    credentials = {"account_sid": SID, "auth_token": TOKEN}
    body = {"carrier": "twilio", "name": "Main line", "credentials": credentials}
    acct = await http.post("/api/v1/carriers", headers=headers, json=body)
    assert acct.status_code == 201, acct.text
    numbers = []
    for _ in range(2):
        number = f"+1415666{uuid.uuid4().int % 10000:04d}"
        pn = await http.post("/api/v1/phone-numbers", headers=headers, json={
            "number": number, "carrier_account_id": acct.json()["id"]})  # fmt: skip
        assert pn.status_code == 201, pn.text
        numbers.append(number)
    return Admin(email, headers, workflow_id, numbers)


def _prefix() -> str:
    """Numbers of their own for each test (the fake carrier scripts outcomes by number)."""
    return f"+1202{uuid.uuid4().int % 1000:03d}"


async def test_admin_creates_uploads_runs_and_reads_a_campaign(env: Env, open_browser) -> None:
    from playwright.async_api import expect

    admin = await _admin(env.http)
    p = _prefix()
    ana, ben, eve, fay, gus, dee = (f"{p}{i:04d}" for i in (1, 2, 5, 6, 7, 4))
    env.carrier.script[eve] = ["busy", "busy"]
    env.carrier.hold.add(fay)  # Fay's call stays up: the campaign runs until the test ends it
    page, watch = await open_browser()
    watch.allowed_errors = REFUSED
    await sign_in(page, env.live.url, admin.email, PASSWORD)

    # The do-not-call list: Dee asked not to be called.
    await page.get_by_role("link", name="Campaigns").click()
    await expect(page.get_by_text("No campaigns yet.")).to_be_visible()
    await page.get_by_role("link", name="Do-not-call list").click()
    await page.get_by_label("Phone number").fill("12345")
    await page.get_by_role("button", name="Add number").click()
    await expect(page.locator(".field-error")).to_contain_text("E.164")
    await page.get_by_label("Phone number").fill(dee)
    await page.get_by_label("Reason").fill("asked by email")
    await page.get_by_role("button", name="Add number").click()
    await expect(page.get_by_test_id("do-not-call")).to_contain_text(dee)
    await screenshot(page, "do-not-call")

    # The form: an unknown time zone and a Monday window ending before it starts are shown at
    # their fields (the API's pointers /body/schedule/time_zone, /body/schedule/windows/mon/0).
    await page.get_by_role("link", name="Campaigns", exact=True).first.click()
    await page.get_by_role("link", name="New campaign").click()
    form = page.get_by_test_id("campaign-form")
    await form.get_by_label("Name", exact=True).fill("December reminders")
    await form.get_by_label(admin.numbers[1]).check()
    await form.get_by_label("Start").fill("2026-01-15T09:00")
    zone = form.get_by_label(re.compile("^Time zone"))
    await zone.fill("Mars/Olympus")
    monday = form.get_by_role("group", name="Monday")
    await monday.get_by_label("From").fill("17:00")
    await monday.get_by_label("To").fill("09:00")
    await form.get_by_label("Calls at once").fill("2")
    await form.get_by_label("Attempts per contact").fill("2")
    await form.get_by_label("Wait before retrying (s)").fill("0")
    await form.get_by_label("Variable name").fill("company")
    await form.get_by_label("Value").fill("Acme")
    await form.get_by_label("Required per contact").fill("first_name")
    await form.get_by_role("button", name="Create campaign").click()
    await expect(zone).to_have_attribute("aria-invalid", "true")
    await expect(zone).to_be_focused()  # the first field with a problem
    zone_error = form.locator(f"#{await zone.get_attribute('aria-describedby')}")
    await expect(zone_error).to_contain_text("unknown time zone")
    await expect(monday.locator(".field-error")).to_contain_text("end must be after start")
    await expect(page.get_by_role("alert")).to_contain_text("fixing")
    assert await _audit(page) == []  # axe-core, with the errors on screen
    await screenshot(page, "campaign-new-errors")
    await zone.fill("Europe/Paris")
    await monday.get_by_label("To").fill("18:00")
    await form.get_by_label("Call at any time").check()  # the test runs at any hour
    await form.get_by_role("button", name="Create campaign").click()
    await expect(page.get_by_role("heading", name="December reminders")).to_be_visible()
    campaign_id = page.url.rsplit("/", 1)[1]
    created = (await env.http.get(f"/api/v1/campaigns/{campaign_id}", headers=admin.headers)).json()
    assert created["caller_ids"] == [admin.numbers[1]]
    assert created["schedule"]["time_zone"] == "Europe/Paris"
    assert created["schedule"]["starts_at"].startswith("2026-01-15T08:00:00")  # 09:00 in Paris
    assert created["schedule"]["windows"] is None
    assert (created["max_concurrent_calls"], created["retry"]["max_attempts"]) == (2, 2)
    assert created["variables"] == {"company": "Acme"}
    assert created["required_variables"] == ["first_name"]
    await expect(page.get_by_test_id("campaign-state")).to_have_text("draft")
    await expect(page.get_by_role("button", name="Start")).to_be_disabled()  # no contacts yet

    # A file the API cannot read at all is refused at the file input.
    csv_input = page.get_by_label("CSV file")
    no_phone = {"name": "names.csv", "mimeType": "text/csv", "buffer": b"name\nAna\n"}
    await csv_input.set_input_files(files=[no_phone])
    await page.get_by_role("button", name="Upload CSV").click()
    await expect(csv_input).to_have_attribute("aria-invalid", "true")
    await expect(page.locator("#file-error")).to_contain_text("phone")

    # A CSV with good and bad rows: the good are kept, each bad one is listed with its reason.
    rows = [
        "phone_number,first_name", f"{ana},Ana", f"{ben},Ben", "not-a-number,Cy", f"{ana},Ana again",
        f"{eve},", f"{dee},Dee", f"{eve},Eve", f"{fay},Fay",
    ]  # fmt: skip
    await page.get_by_label("CSV file").set_input_files(
        files=[{"name": "contacts.csv", "mimeType": "text/csv", "buffer": "\n".join(rows).encode()}])
    await page.get_by_role("button", name="Upload CSV").click()
    report = page.get_by_test_id("import-report")
    await expect(report.get_by_test_id("imported")).to_have_text("4 of 8 rows imported.")
    refused = report.get_by_test_id("rejected-rows").locator("tbody tr")
    await expect(refused).to_have_count(4)
    expected = {"3": "invalid_number", "4": "duplicate", "5": "missing_variables", "6": "do_not_call"}
    for i in range(4):
        cells = await refused.nth(i).locator("td").all_inner_texts()
        assert expected.pop(cells[0]) == cells[2], cells
    assert expected == {}
    await screenshot(page, "campaign-upload-report")
    await page.get_by_label("Or paste JSON").fill(
        f'[{{"phone_number": "{gus}", "variables": {{"first_name": "Gus"}}}}]')
    await page.get_by_role("button", name="Add from JSON").click()
    await expect(report.get_by_test_id("imported")).to_have_text("1 of 1 row imported.")
    await expect(page.get_by_test_id("contacts-total")).to_have_text("5")
    await expect(page.get_by_test_id("contacts").locator("tbody tr")).to_have_count(5)

    # Start: the page follows the campaign as it dials (Fay's call stays up).
    await page.get_by_role("button", name="Start").click()
    await expect(page.get_by_test_id("campaign-state")).to_have_text("running")
    counts = page.get_by_label("Contacts per state")
    await expect(counts.locator("[data-state=completed] strong")).to_have_text("3", timeout=20_000)
    await expect(counts.locator("[data-state=busy] strong")).to_have_text("1", timeout=20_000)
    await expect(counts.locator("[data-state=calling] strong")).to_have_text("1")
    await page.get_by_role("button", name="Pause").click()
    await expect(page.get_by_test_id("campaign-state")).to_have_text("paused")
    await expect(page.get_by_role("button", name="Resume")).to_be_visible()
    await expect(page.get_by_role("button", name="Pause")).to_have_count(0)
    await page.get_by_role("button", name="Resume").click()
    await expect(page.get_by_test_id("campaign-state")).to_have_text("running")
    await screenshot(page, "campaign-running")

    # Fay answers and hangs up: the campaign completes, and the page says so by itself.
    env.carrier.hold.discard(fay)
    call = next(c for c in env.fake.calls.values() if c.to == fay)
    await env.carrier.play(call)
    await expect(page.get_by_test_id("campaign-state")).to_have_text("completed", timeout=20_000)
    final = (await env.http.get(f"/api/v1/campaigns/{campaign_id}", headers=admin.headers)).json()
    assert final["progress"]["states"]["completed"] == 4 and final["progress"]["attempts"] == 6
    await expect(page.get_by_test_id("attempts")).to_have_text("6")
    rate = f"{final['progress']['answer_rate'] * 100:.1f} %"
    await expect(page.get_by_test_id("answer-rate")).to_have_text(rate)
    cost = page.get_by_test_id("campaign-cost")
    if "cost" in final["progress"]:  # the API's estimate (PRICING), when this server reports it
        await expect(cost).to_contain_text(re.compile(r"\d"))
    else:
        await expect(cost).to_have_count(0)
    bar = page.get_by_role("progressbar", name="Contacts done")
    await expect(bar).to_have_attribute("aria-valuenow", "100")
    controls = re.compile("^(Start|Pause|Resume|Cancel campaign)$")
    await expect(page.get_by_role("button", name=controls)).to_have_count(0)
    await screenshot(page, "campaign")

    assert await _audit(page) == []  # with attempts, links to calls, counts

    # Contacts by state (a count lists its contacts): Eve was busy twice; each attempt links
    # to its call.
    await counts.locator("[data-state=busy]").click()
    await expect(page.get_by_test_id("state-filter")).to_have_value("busy")
    table = page.get_by_test_id("contacts")
    await expect(table.locator("tbody tr")).to_have_count(1)
    await expect(table).to_contain_text(eve)
    attempts = table.get_by_role("link", name=re.compile("^Attempt"))
    await expect(attempts).to_have_count(2)

    # The results CSV, as the server writes it.
    async with page.expect_download() as info:
        await page.get_by_role("button", name="Download results (CSV)").click()
    lines = list(csv.reader(io.StringIO((await (await info.value).path()).read_text())))
    assert lines[0][:6] == ["row", "phone_number", "time_zone", "state", "attempts", "last_outcome"]
    assert sorted((line[1], line[3]) for line in lines[1:]) == sorted(
        [(ana, "completed"), (ben, "completed"), (eve, "busy"), (fay, "completed"), (gus, "completed")])

    await attempts.first.click()
    await expect(page.get_by_role("heading", name=re.compile("^Call "))).to_be_visible()
    await expect(page.locator(".card .badge").first).to_have_text("busy")

    # The list shows it done; the do-not-call entry comes off the list.
    await page.get_by_role("link", name="Campaigns", exact=True).first.click()
    row = page.get_by_test_id("campaigns").get_by_role("row", name=re.compile("December reminders"))
    await expect(row.get_by_test_id("campaign-state")).to_have_text("completed")
    await expect(row.get_by_role("progressbar")).to_have_attribute("aria-valuenow", "100")
    await screenshot(page, "campaigns")
    await page.get_by_role("link", name="Do-not-call list").click()
    page.once("dialog", lambda dialog: dialog.accept())
    await page.get_by_role("button", name=f"Remove {dee}").click()
    await expect(page.get_by_text("The list is empty.")).to_be_visible()
    watch.check()


async def test_member_follows_a_campaign_without_controls(env: Env, open_browser) -> None:
    from playwright.async_api import expect

    admin = await _admin(env.http)
    p = _prefix()
    numbers = [f"{p}{i:04d}" for i in range(3)]
    env.carrier.script[numbers[2]] = ["no-answer"]
    env.carrier.hold.add(numbers[1])  # still calling while the member looks: admins see controls
    http, h = env.http, admin.headers
    r = await http.post("/api/v1/campaigns", headers=h, json={
        "name": "Survey", "workflow_id": admin.workflow_id, "max_concurrent_calls": 3,
        "calls_per_minute": 6000, "retry": {"retry_on": [], "max_attempts": 1}})  # fmt: skip
    assert r.status_code == 201, r.text
    campaign_id = r.json()["id"]
    r = await http.post(f"/api/v1/campaigns/{campaign_id}/contacts", headers=h,
                        json={"contacts": [{"phone_number": n} for n in numbers]})  # fmt: skip
    assert r.json()["imported"] == 3, r.text
    assert (await http.post(f"/api/v1/campaigns/{campaign_id}/start", headers=h)).status_code == 200
    listed = await http.post("/api/v1/do-not-call", headers=h,
                             json={"phone_number": f"{p}9999", "reason": "opted out"})  # fmt: skip
    assert listed.status_code == 201, listed.text
    member_email = f"member-{uuid.uuid4().hex[:8]}@example.com"
    invite = await http.post("/api/v1/organization/members", headers=h,
                             json={"email": member_email, "role": "member"})  # fmt: skip
    assert invite.status_code == 202, invite.text
    token = invite.json()["invite_token"]
    body = {"email": member_email, "password": PASSWORD, "invite_token": token}
    joined = await http.post("/api/v1/auth/signup", json=body)
    assert joined.status_code == 201, joined.text

    page, watch = await open_browser(width=390, height=844)
    await sign_in(page, env.live.url, member_email, PASSWORD)
    await page.goto(f"{env.live.url}/campaigns")
    await expect(page.get_by_role("link", name="Survey")).to_be_visible()
    await expect(page.get_by_role("link", name="New campaign")).to_have_count(0)
    await page.get_by_role("link", name="Survey").click()
    counts = page.get_by_label("Contacts per state")
    await expect(counts.locator("[data-state=no-answer] strong")).to_have_text("1", timeout=20_000)
    await expect(counts.locator("[data-state=calling] strong")).to_have_text("1")
    await expect(page.get_by_test_id("campaign-state")).to_have_text("running")
    controls = re.compile("Start|Pause|Resume|Cancel|Upload|Add")
    await expect(page.get_by_role("button", name=controls)).to_have_count(0)
    await expect(page.get_by_role("heading", name="Add contacts")).to_have_count(0)
    env.carrier.hold.discard(numbers[1])
    await env.carrier.play(next(c for c in env.fake.calls.values() if c.to == numbers[1]))
    await expect(page.get_by_test_id("campaign-state")).to_have_text("completed", timeout=20_000)
    await expect(counts.locator("[data-state=completed] strong")).to_have_text("2")
    await expect(page.get_by_test_id("contacts").locator("tbody tr")).to_have_count(3)
    # members read the results
    await expect(page.get_by_role("button", name="Download results (CSV)")).to_be_visible()
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the campaign page scrolls sideways at 390 px ({width} px)"
    await screenshot(page, "campaign-member-390px")
    await page.goto(f"{env.live.url}/campaigns/do-not-call")
    await expect(page.get_by_test_id("do-not-call")).to_contain_text(f"{p}9999")
    await expect(page.get_by_test_id("needs-role")).to_be_visible()
    await expect(page.get_by_role("button", name=re.compile("Add|Remove"))).to_have_count(0)
    await page.goto(f"{env.live.url}/campaigns/new")
    await expect(page.get_by_text("can follow campaigns but not create them")).to_be_visible()
    await expect(page.get_by_role("button", name="Create campaign")).to_have_count(0)
    watch.check()
