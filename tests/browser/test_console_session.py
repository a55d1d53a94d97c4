"""Console sessions in a real browser: sign in, a stale access token refreshed quietly, an
expired session that says so, the organization switcher, sign out revoking the login; and
the console at 390 px wide in dark mode."""

from __future__ import annotations

import json
import uuid

import pytest

from tests.browser.conftest import screenshot

pytestmark = [pytest.mark.realtime, pytest.mark.timeout(120)]
UNAUTHORIZED = "status of 401"  # the browser logs each 401 the console then recovers from


async def sign_in(page, base: str, email: str, password: str) -> None:
    from playwright.async_api import expect

    await page.goto(f"{base}/signin")
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", name="Home")).to_be_visible()


async def stored_session(page) -> dict:
    return json.loads(await page.evaluate("sessionStorage.getItem('sb_console_session')"))


async def test_refresh_expiry_switch_and_sign_out(server, client, make_user, open_browser) -> None:
    from playwright.async_api import expect

    user = await make_user(organization_name="First org")
    other = await make_user(organization_name="Second org")
    invited = await client.post("/api/v1/organization/members", headers=other.headers,
                                json={"email": user.email, "role": "admin"})  # fmt: skip
    assert invited.status_code == 202, invited.text
    page, watch = await open_browser()
    watch.allowed_errors = (UNAUTHORIZED,)

    # An existing account accepts an invitation from its link: sign in and join.
    await page.goto(f"{server.url}/invitation#token={invited.json()['invite_token']}")
    await page.get_by_label("I already have an account").check()
    await page.get_by_label("Email").fill(user.email)
    await page.get_by_label("Password").fill(user.password)
    await page.get_by_role("button", name="Sign in and join").click()
    await expect(page.get_by_role("heading", name="Home")).to_be_visible()
    await expect(page.get_by_test_id("role")).to_have_text("admin")  # signed in to the new one
    assert (await stored_session(page))["organizationId"] == other.organization_id
    await page.get_by_role("button", name="Sign out").click()
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    await sign_in(page, server.url, user.email, user.password)

    # A stale access token: the next request gets a 401, refreshes quietly and carries on.
    before = await stored_session(page)
    await page.evaluate("""(() => { const s = JSON.parse(sessionStorage.getItem('sb_console_session'));
        s.access = 'stale'; sessionStorage.setItem('sb_console_session', JSON.stringify(s)); })()""")
    await page.reload()
    await expect(page.get_by_role("heading", name="Home")).to_be_visible()
    after = await stored_session(page)
    assert after["access"] not in ("stale", before["access"])
    assert after["refresh"] != before["refresh"]  # refresh tokens rotate

    # Switch organization: no password asked; the old login is revoked, a new one minted.
    switcher = page.get_by_label("Organization")
    await expect(switcher.locator("option")).to_have_count(2)
    await expect(page.get_by_test_id("role")).to_have_text("owner")  # the first organization
    first_refresh = (await stored_session(page))["refresh"]
    await switcher.select_option(label="Second org (admin)")
    await expect(page.get_by_test_id("role")).to_have_text("admin")
    assert (await stored_session(page))["organizationId"] == other.organization_id
    old = await client.post("/api/v1/auth/refresh", json={"refresh_token": first_refresh})
    assert old.status_code == 401

    # Sign out revokes the login: its refresh token no longer works.
    refresh_token = (await stored_session(page))["refresh"]
    await page.get_by_role("button", name="Sign out").click()
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    revoked = await client.post("/api/v1/auth/refresh", json={"refresh_token": refresh_token})
    assert revoked.status_code == 401

    # An expired session (refresh token no longer accepted) says so on the sign-in page.
    await sign_in(page, server.url, user.email, user.password)
    await page.evaluate("""(() => { const s = JSON.parse(sessionStorage.getItem('sb_console_session'));
        s.access = 'stale'; s.refresh = 'revoked';
        sessionStorage.setItem('sb_console_session', JSON.stringify(s)); })()""")
    await page.goto(f"{server.url}/calls")
    await expect(page.get_by_role("alert")).to_contain_text("Your session expired")
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    watch.check()


async def test_narrow_dark_console(server, make_user, open_browser) -> None:
    from playwright.async_api import expect

    user = await make_user(organization_name=f"Dark {uuid.uuid4().hex[:6]}")
    page, watch = await open_browser(width=390, height=844, dark=True)
    await sign_in(page, server.url, user.email, user.password)
    background = await page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(15, 18, 22)"  # the dark palette
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the home page scrolls sideways at 390 px ({width} px)"
    await screenshot(page, "home-390px-dark")
    menu = page.get_by_role("button", name="Menu")
    await expect(menu).to_have_attribute("aria-expanded", "false")
    await menu.click()
    await page.get_by_role("link", name="Workflows").click()
    await expect(page.get_by_role("heading", name="Workflows")).to_be_visible()
    await expect(menu).to_have_attribute("aria-expanded", "false")  # navigating closes it
    # Keyboard: on a fresh load the skip link is the first stop and jumps to the content.
    await page.reload()
    await expect(page.get_by_role("heading", name="Workflows")).to_be_visible()
    await page.keyboard.press("Tab")
    await expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(page.locator("main#main")).to_be_focused()

    # Change the password (Settings → Your account), then sign in with the new one.
    await page.goto(f"{server.url}/settings/account")
    await page.get_by_label("Current password").fill(user.password)
    await page.get_by_label("New password", exact=True).fill("a brand new passphrase")
    await page.get_by_label("New password again").fill("a brand new passphrase")
    await page.get_by_role("button", name="Change password").click()
    await expect(page.get_by_text("Password changed.")).to_be_visible()
    await screenshot(page, "settings-account-390px-dark")
    await page.get_by_role("button", name="Menu").click()
    await page.get_by_role("button", name="Sign out", exact=True).click()
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    await sign_in(page, server.url, user.email, "a brand new passphrase")
    watch.check()
