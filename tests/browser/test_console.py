"""The console in a real browser: a new user signs up, builds a workflow from a template,
breaks it and sees the problem at its JSON pointer, fixes and publishes it, calls it by voice
from the Test page (Chromium's fake microphone speaks an espeak-ng WAV), then finds the call,
sees its turns and latency waterfall and plays the recording from a turn; creates an API key
and invites a member, who sees no admin actions. No request leaves 127.0.0.1 and the browser
logs no errors.
"""

from __future__ import annotations

import asyncio
import os
import re
import uuid

import pytest

from tests.browser.conftest import screenshot

pytestmark = [pytest.mark.realtime, pytest.mark.timeout(240)]
PASSWORD = "correct horse battery"


async def poll(check, seconds: float) -> bool:
    """True as soon as ``await check()`` is truthy, False after ``seconds``."""
    for _ in range(int(seconds / 0.1)):
        if await check():
            return True
        await asyncio.sleep(0.1)
    return False


async def sign_up(page, base: str, email: str, organization: str | None = None) -> None:
    from playwright.async_api import expect

    await page.goto(f"{base}/")
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    await screenshot(page, "signin")
    await page.get_by_role("link", name="Create an account").click()
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    if organization:
        await page.get_by_label("Organization name").fill(organization)
    await screenshot(page, "signup")
    await page.get_by_role("button", name="Create account").click()
    await expect(page.get_by_role("heading", name="Home")).to_be_visible()


async def test_owner_builds_tests_and_inspects_a_call(server, open_browser) -> None:
    from playwright.async_api import expect

    page, watch = await open_browser()
    await sign_up(page, server.url, f"owner-{uuid.uuid4().hex[:8]}@example.com", "Acme")

    # Create a workflow from a template.
    await page.get_by_role("link", name="Workflows").click()
    await page.get_by_role("link", name="New workflow").click()
    await page.get_by_label("Name", exact=True).fill("Front desk")
    await page.get_by_label(re.compile("Order and billing desk")).check()
    await screenshot(page, "workflow-new")
    await page.get_by_role("button", name="Create workflow").click()
    editor = page.get_by_label("Definition (JSON)")
    await expect(editor).to_have_value(re.compile('"nodes"'))
    await expect(page.get_by_test_id("valid")).to_be_visible()
    await expect(page.locator("svg.graph g.node")).to_have_count(4)

    # Break it: an edge to a node that does not exist. The problem shows at its pointer.
    text = await editor.input_value()
    broken = text.replace('"to": "orders"', '"to": "nowhere"', 1)
    assert broken != text
    await editor.fill(broken)
    problems = page.get_by_test_id("problems")
    await expect(problems).to_contain_text("/edges/0/to")
    await expect(problems).to_contain_text("nowhere")
    await expect(page.get_by_role("button", name="Publish")).to_be_disabled()
    await problems.get_by_role("button", name="/edges/0/to").click()
    selected = await editor.evaluate("el => el.value.slice(el.selectionStart, el.selectionEnd)")
    assert selected == '"nowhere"'
    await screenshot(page, "workflow-editor-problem")

    # Fix it and publish.
    await editor.fill(text)
    await expect(page.get_by_test_id("valid")).to_be_visible()
    await expect(page.get_by_test_id("save-state")).to_have_text("All changes saved")
    await page.locator("svg.graph g.node[data-node='billing']").click()
    await expect(page.get_by_role("heading", name=re.compile("Node billing"))).to_be_visible()
    await page.get_by_role("button", name="Publish").click()
    await expect(page.get_by_text("Published version 1")).to_be_visible()

    # Edit a node from the graph, publish v2, compare with v1 and roll back to it.
    await page.get_by_label("say").fill("Billing here: which charge is it?")
    await expect(editor).to_have_value(re.compile("Billing here: which charge is it"))
    await expect(page.get_by_test_id("save-state")).to_have_text("All changes saved")
    await page.get_by_role("button", name="Publish").click()
    await expect(page.get_by_text("Published version 2")).to_be_visible()
    await page.get_by_role("button", name="Roll back to v1").click()
    await expect(page.get_by_text("Rolled back to version 1")).to_be_visible()
    await expect(editor).not_to_have_value(re.compile("Billing here"))
    await page.get_by_role("row", name=re.compile("v2")).get_by_role("button", name="Diff with draft").click()
    await expect(page.get_by_label("Differences")).to_contain_text("- ")
    await screenshot(page, "workflow-editor")

    # A real WebRTC call from the Test page, with the fake microphone.
    await page.get_by_role("link", name="Test", exact=True).first.click()
    await expect(page.get_by_role("heading", name="Test")).to_be_visible()
    await page.get_by_label("caller_name").fill("Dana")  # the template's declared input

    # Text chat first: the greeting, then a reply to what we type.
    await page.get_by_role("button", name="Start a chat").click()
    chat = page.get_by_label("Chat", exact=True)
    await expect(chat.locator("li.agent").first).to_contain_text("Hi Dana")
    await page.get_by_label("Your message").fill("I have a question about billing")
    await page.get_by_role("button", name="Send").click()
    await expect(chat.locator("li.agent")).to_have_count(2)

    await page.get_by_role("button", name="Start a voice call").click()
    live = page.get_by_label("Live transcript")
    await expect(live.locator("li.agent").first).to_contain_text("Dana", timeout=30_000)
    await expect(live.locator("li.user:not(.interim)").first).to_be_visible(timeout=30_000)
    await expect(live.locator("li.user:not(.interim) ~ li.agent").first).to_be_visible(timeout=30_000)
    await screenshot(page, "test-call")

    # The Live page (another tab of the same session) shows the call and its transcript.
    async with page.expect_popup() as popup_info:
        await page.evaluate("window.open('/live')")
    live_page = await popup_info.value
    live_call = live_page.get_by_role("article")
    await expect(live_call).to_have_count(1)
    await expect(live_call.locator("li.user")).not_to_have_count(0)
    await expect(live_call.get_by_role("button", name="Hang up")).to_be_visible()
    await screenshot(live_page, "live")
    await live_page.close()
    await page.get_by_role("button", name="Hang up").click()
    await expect(page.get_by_test_id("voice-status")).to_have_text("Call ended.")
    call_link = page.get_by_role("link", name="Open this call's record")
    await expect(call_link).to_be_visible()
    call_url = await call_link.get_attribute("href")

    # Find the call in the list and open it.
    await page.get_by_role("link", name="Calls", exact=True).click()
    row_link = page.locator(f"table[data-testid=calls] a[href='{call_url}']")
    await expect(row_link).to_be_visible()
    await screenshot(page, "calls")
    await row_link.click()
    await expect(page.get_by_test_id("transcript").locator("li.user")).not_to_have_count(0, timeout=20_000)
    await expect(page.get_by_test_id("transcript").locator("li.agent")).not_to_have_count(0)
    # the page refreshes until the call has ended; every turn is stored by then
    await expect(page.get_by_test_id("waterfall").locator("rect")).not_to_have_count(0, timeout=20_000)
    audio = page.get_by_test_id("recording")
    await expect(audio).to_be_visible()
    # (polled from here: wait_for_function evaluates strings, which the console's CSP forbids)
    assert await poll(lambda: audio.evaluate("a => a.readyState >= 1"), seconds=10)
    turns = page.locator("svg.timeline g.turn")
    assert await turns.count() >= 2
    await turns.last.click()  # play from the last turn
    assert await poll(lambda: audio.evaluate("a => !a.paused && a.currentTime > 0.5"), seconds=10)
    await screenshot(page, "call")
    if os.environ.get("CONSOLE_SCREENSHOTS"):
        await page.emulate_media(color_scheme="dark")
        await screenshot(page, "call-dark")
        await page.emulate_media(color_scheme="light")

    # Home shows the call and its voice-to-voice latency.
    await page.get_by_role("link", name="Home").click()
    await expect(page.get_by_test_id("summary")).to_contain_text("Calls today")
    summary = page.get_by_test_id("summary")
    await expect(summary.locator(".card .value").first).to_have_text("1")
    p50 = summary.get_by_text("Voice-to-voice p50").locator("..")
    await expect(p50).to_contain_text(re.compile(r"\d+ ms"))
    await screenshot(page, "home")

    # Create an API key: the secret is shown once.
    await page.get_by_role("link", name="Settings").click()
    await page.get_by_label("Name").fill("CI")
    await page.get_by_role("button", name="Create API key").click()
    await expect(page.get_by_test_id("new-key").locator("code")).to_have_text(re.compile(r"\S{20,}"))
    await screenshot(page, "settings-keys")
    await page.get_by_role("link", name="Audit log").click()
    await expect(page.locator("table")).to_contain_text("api_key")
    await screenshot(page, "settings-audit")

    # Invite a member; they accept through the link and see no admin actions.
    await page.get_by_role("link", name="Members").click()
    member_email = f"member-{uuid.uuid4().hex[:8]}@example.com"
    await page.get_by_label("Email").fill(member_email)
    await page.get_by_role("button", name="Invite").click()
    invite = page.get_by_test_id("invite-result").locator("code")
    await expect(invite).to_contain_text("/invitation#token=")
    invite_url = await invite.inner_text()
    await screenshot(page, "settings-members")
    for name in ("usage", "billing"):
        await page.get_by_role("link", name=name.capitalize()).click()
        await expect(page.get_by_role("heading", name=name.capitalize())).to_be_visible()
        await screenshot(page, name)
    watch.check()

    member, member_watch = await open_browser(width=390, height=844)
    await member.goto(invite_url)
    await member.get_by_label("Email").fill(member_email)
    await member.get_by_label("Password").fill(PASSWORD)
    await member.get_by_role("button", name="Create account and join").click()
    await expect(member.get_by_role("heading", name="Home")).to_be_visible()
    await member.get_by_role("button", name="Menu").click()
    await expect(member.get_by_test_id("role")).to_have_text("member")
    await member.get_by_role("link", name="Workflows").click()
    await expect(member.get_by_role("link", name="Front desk")).to_be_visible()
    await expect(member.get_by_role("link", name="New workflow")).to_have_count(0)
    await member.get_by_role("link", name="Front desk").click()
    await expect(member.get_by_label("Definition (JSON)")).to_have_attribute("readonly", "")
    await expect(member.get_by_role("button", name="Publish")).to_have_count(0)
    await expect(member.get_by_role("button", name=re.compile("Archive|Delete|Duplicate"))).to_have_count(0)
    await member.goto(f"{server.url}{call_url}")  # members read calls, recordings included
    await expect(member.get_by_test_id("transcript").locator("li.user")).not_to_have_count(0)
    await expect(member.get_by_test_id("recording")).to_be_visible()
    width = await member.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the call page scrolls sideways at 390 px ({width} px)"
    await screenshot(member, "call-390px")
    await member.get_by_role("button", name="Menu").click()
    await member.get_by_role("link", name="Test", exact=True).click()
    await expect(member.get_by_test_id("needs-role")).to_be_visible()
    await expect(member.get_by_role("button", name="Start a voice call")).to_have_count(0)
    for tab in ("keys", "members", "providers", "telephony", "webhooks", "secrets", "audit"):
        await member.goto(f"{server.url}/settings/{tab}")
        await expect(member.get_by_role("heading", name="Settings")).to_be_visible()
        await expect(member.get_by_role("button", name=re.compile(
            "Create|Invite|Save|Add|Delete|Revoke|Remove|Roll back|Hang up"))).to_have_count(0)
    await screenshot(member, "member-settings-390px")
    member_watch.check()
