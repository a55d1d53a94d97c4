"""Finding 10: phone numbers were globally unique with no proof of ownership (any
organization could squat a number; the 409 told another organization held it), and the
unsigned voice webhook answered 403 for a registered number but 200 ``<Reject/>`` for an
unknown one.

Now a number is verified against the organization's carrier account (the carrier lists
it) when registered; the same number may be registered by two organizations only when
both accounts list it; inbound calls go to the most recently verified registration; the
answers never depend on another organization; unknown and unsigned are answered alike."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from db import phone_numbers as numbers_db
from tests.conftest import LiveServer, make_settings, run_server
from tests.fakes.carriers.twilio_rest import FakeTwilioRest

pytestmark = pytest.mark.integration

SID, TOKEN = "AC" + "7" * 32, "squat-token"


@pytest.fixture(scope="module")
async def env(database_url: str, data_dir: Path) -> AsyncIterator[tuple[LiveServer, FakeTwilioRest]]:
    async with FakeTwilioRest(SID, TOKEN) as fake:
        settings = make_settings(database_url, data_dir, twilio_api_base_url=fake.http_url)
        async with run_server(settings) as live:
            yield live, fake


async def _org(http: httpx.AsyncClient) -> tuple[dict[str, str], str, str]:
    r = await http.post("/api/v1/auth/signup", json={
        "email": f"sq-{uuid.uuid4().hex[:8]}@example.com", "password": "correct horse battery"})  # fmt: skip
    assert r.status_code == 201, r.text
    headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
    acct = await http.post("/api/v1/carriers", headers=headers, json={
        "carrier": "twilio", "name": "t",
        "credentials": {"account_sid": SID, "auth_token": TOKEN}})  # fmt: skip
    assert acct.status_code == 201, acct.text
    return headers, acct.json()["id"], r.json()["organization_id"]


async def test_numbers_are_verified_and_never_reveal_other_organizations(env) -> None:
    live, fake = env
    number = f"+1415333{uuid.uuid4().int % 10000:04d}"
    nobody = f"+1415334{uuid.uuid4().int % 10000:04d}"
    async with httpx.AsyncClient(base_url=live.url, timeout=30) as http:
        (a, a_acct, a_org), (b, b_acct, b_org) = await _org(http), await _org(http)

        fake.numbers = {number}
        r = await http.post("/api/v1/phone-numbers", headers=a,
                            json={"number": number, "carrier_account_id": a_acct})  # fmt: skip
        assert r.status_code == 201, r.text
        assert r.json()["verified_at"] is not None

        fake.numbers = set()  # B's account does not hold it: B cannot squat it
        taken = await http.post("/api/v1/phone-numbers", headers=b,
                                json={"number": number, "carrier_account_id": b_acct})  # fmt: skip
        free = await http.post("/api/v1/phone-numbers", headers=b,
                               json={"number": nobody, "carrier_account_id": b_acct})  # fmt: skip
        assert taken.status_code == free.status_code == 422
        assert taken.json() == free.json()  # nothing tells B that A holds the number

        fake.numbers = {number}  # now B's account lists it too: both may hold it
        r = await http.post("/api/v1/phone-numbers", headers=b,
                            json={"number": number, "carrier_account_id": b_acct})  # fmt: skip
        assert r.status_code == 201, r.text
        routed = await numbers_db.resolve_inbound(live.services.db, "twilio", number)
        assert str(routed["organization_id"]) == b_org  # the most recently verified

        # unsigned webhooks: a registered number and an unknown one are answered alike
        form = {"CallSid": "CA" + uuid.uuid4().hex, "From": "+14155550100"}
        known = await http.post("/telephony/twilio/voice", data={**form, "To": number})
        unknown = await http.post("/telephony/twilio/voice", data={**form, "To": nobody})
        assert (known.status_code, known.text) == (403, "invalid signature")
        assert (unknown.status_code, unknown.text) == (403, "invalid signature")
    assert a_org != b_org
