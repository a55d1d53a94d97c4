"""A campaign dial in doubt with a carrier that has no idempotent create (Plivo): the dialer
dies after the carrier placed the call but before its answer came back. Another instance
must NOT send the dial again (that would ring the person twice); the carrier's signed
callback, on the URL that names the call, settles the attempt with the carrier's call id."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from loadgen.callers.carriers import PlivoCaller
from tests.fakes.carriers.rest import FakeCarrierRest
from tests.integration.server.campaign_carrier import (
    PUBLIC,
    Org,
    instance,
    own_database_url,  # noqa: F401  (own database)
)

VICTIM = "+12125550177"


@pytest.fixture
async def plivo() -> AsyncIterator[FakeCarrierRest]:
    async with FakeCarrierRest("plivo", PlivoCaller.rest_credentials()) as fake:
        yield fake
        fake.unstall.set()


async def _contact(org: Org, campaign_id: str) -> dict[str, Any]:
    [contact] = await org.contacts(campaign_id)
    return contact


async def _until(predicate: Any, timeout: float = 30) -> Any:
    async def wait() -> Any:
        while not (value := await predicate()):
            await asyncio.sleep(0.1)
        return value

    return await asyncio.wait_for(wait(), timeout)


async def _plivo_org(org: Org) -> Org:
    await org.setup(callers=0)
    acct = await org.http.post("/api/v1/carriers", headers=org.headers, json={
        "carrier": "plivo", "name": "p", "credentials": PlivoCaller.rest_credentials()})  # fmt: skip
    assert acct.status_code == 201, acct.text
    pn = await org.http.post("/api/v1/phone-numbers", headers=org.headers, json={
        "number": "+14155550190", "carrier_account_id": acct.json()["id"],
        "workflow_id": org.workflow_id})  # fmt: skip
    assert pn.status_code == 201, pn.text
    org.numbers = ["+14155550190"]
    return org


async def test_in_doubt_dial_is_not_resent_and_its_callback_settles_it(
    plivo: FakeCarrierRest, database_url: str, data_dir: Any
) -> None:
    plivo.stall = lambda request: request.get("to") == VICTIM.lstrip("+")
    overrides = {"plivo_api_base_url": plivo.http_url}
    async with instance(database_url, data_dir, plivo, **overrides) as first, \
            httpx.AsyncClient(base_url=first.url, timeout=30) as http:  # fmt: skip
        org = await _plivo_org(Org(http))
        campaign_id = await org.campaign([{"phone_number": VICTIM}], retry={"retry_on": []})
        assert (await org.act(campaign_id, "start")).status_code == 200
        await _until(lambda: _placed(plivo))
        assert first.services.campaigns is not None
        await first.services.campaigns.stop()  # the dialer dies mid-request
    plivo.stall = None
    async with instance(database_url, data_dir, plivo, **overrides) as second, \
            httpx.AsyncClient(base_url=second.url, timeout=30) as http:  # fmt: skip
        org.http = http
        # past its lease the attempt is taken over, in doubt: dialed, carrier call unknown
        await _until(lambda: _in_doubt(org, campaign_id))
        await asyncio.sleep(0.5)  # several more ticks: still no second dial
        [create] = [r for r in plivo.requests if r.method == "POST" and r.path.endswith("/Call/")]
        assert len(plivo.dialed(VICTIM)) == 1
        # the carrier's hangup callback (signed over the URL that names the call) settles it
        [placed_id] = plivo.placed
        caller = PlivoCaller(public_url=PUBLIC, server_url=second.url)
        hook = caller.signed_post(create.get("hangup_url"), {
            "CallUUID": placed_id, "CallStatus": "busy", "Direction": "outbound"})  # fmt: skip
        r = await http.request(hook["method"], caller.loopback(hook["url"]),
                               headers=hook["headers"], data=hook["data"])  # fmt: skip
        assert r.status_code in (200, 204), r.text
        done = await org.wait_state(campaign_id, "completed", timeout=30)
        contact = await _contact(org, campaign_id)
    assert done["progress"]["states"]["busy"] == 1
    assert contact["state"] == "busy" and contact["attempts"] == 1
    assert contact["calls"][0]["carrier_call_id"] == placed_id
    assert len(plivo.dialed(VICTIM)) == 1


async def _placed(plivo: FakeCarrierRest) -> bool:
    return len(plivo.dialed(VICTIM)) == 1


async def _in_doubt(org: Org, campaign_id: str) -> dict[str, Any] | None:
    contact = await _contact(org, campaign_id)
    attempt = contact["calls"][0] if contact["calls"] else None
    if attempt and attempt["state"] == "dialed" and attempt["carrier_call_id"] is None:
        return contact
    return None
