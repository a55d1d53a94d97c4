"""A call's webhook deliveries with their attempts (the console's call page): the real flow,
the job worker delivering call.ended to a local receiver that fails once."""

from __future__ import annotations

import asyncio
from uuid import UUID

from db import calls as calls_db
from server.jobs.webhooks import emit_event
from tests.integration.server.test_webhooks import Receiver, fast_retries  # noqa: F401


async def _new_call(pool, org: UUID):
    return await calls_db.create(
        pool, org, workflow_id=None, workflow_version=None, channel="webrtc",
        direction="browser", from_number=None, to_number=None, status="completed",
        carrier=None, carrier_call_id=None, test=False, variables={}, metadata={},
    )  # fmt: skip


async def test_a_calls_deliveries_and_attempts(client, make_user, server, fast_retries):  # noqa: F811
    user = await make_user()
    org = UUID(user.organization_id)
    pool = server.services.db
    async with Receiver(failures=1) as receiver:
        hook = (await client.post("/api/v1/webhooks", headers=user.headers, json={
            "url": f"{receiver.http_url}/hook", "events": ["call.ended"]})).json()  # fmt: skip
        call, unrelated = await _new_call(pool, org), await _new_call(pool, org)
        await emit_event(server.services, org, "call.ended", {"call_id": str(call["id"])})
        await emit_event(server.services, org, "call.ended", {"call_id": str(unrelated["id"])})
        url = f"/api/v1/calls/{call['id']}/webhook-deliveries"
        for _ in range(200):
            deliveries = (await client.get(url, headers=user.headers)).json()
            if deliveries and deliveries[0]["status"] == "delivered":
                break
            await asyncio.sleep(0.05)
    assert len(deliveries) == 1  # only this call's
    delivery = deliveries[0]
    assert (delivery["event"], delivery["webhook_id"], delivery["url"]) == (
        "call.ended", hook["id"], f"{receiver.http_url}/hook")  # fmt: skip
    assert [a["status_code"] for a in delivery["attempts"]] == [500, 200]
    assert delivery["attempts"][0]["error"] == "HTTP 500"

    # another organization: 404 for the call; a call without deliveries: an empty list
    other = await make_user()
    assert (await client.get(url, headers=other.headers)).status_code == 404
    none = f"/api/v1/calls/{(await _new_call(pool, org))['id']}/webhook-deliveries"
    assert (await client.get(none, headers=user.headers)).json() == []
