"""A campaign whose answered contacts are real media calls (the Twilio emulator streams
speech to the offline pipeline): the same admission, pipeline and records as any outbound
call, a retry after busy, the opt_out tool heard in a conversation putting the number on the
do-not-call list, and the campaign webhooks delivered."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import httpx
from aiohttp import web

from db import calls as calls_db
from tests.fakes import LoopbackServer
from tests.fakes.carriers.twilio_rest import FakeTwilioRest
from tests.fakes.deepgram_server import FakeDeepgram
from tests.integration.server.campaign_carrier import (
    SID,
    TOKEN,
    WORKFLOW,
    Org,
    carrier,
    instance,
    own_database_url,  # noqa: F401  (own database)
)

OPT_OUT_WORKFLOW = {
    **WORKFLOW,
    "nodes": [{**WORKFLOW["nodes"][0], "tools": ["opt_out", "end_call"]}, WORKFLOW["nodes"][1]],
}


class Receiver(LoopbackServer):
    def __init__(self) -> None:
        super().__init__()
        self.events: list[dict[str, Any]] = []
        self.app.router.add_post("/hook", self._hook)

    async def _hook(self, request: web.Request) -> web.Response:
        self.events.append(json.loads(await request.read()))
        return web.Response(status=200)


async def test_campaign_media_calls_retry_opt_out_and_webhooks(database_url: str,
                                                               data_dir: Any) -> None:  # fmt: skip
    numbers = ["+12025550301", "+12025550302", "+12025550303"]
    # the caller's words come through Deepgram's wire protocol (a fake with a fixed
    # transcript): the offline agent hears "stop calling me" and uses the opt_out tool
    async with FakeTwilioRest(SID, TOKEN) as fake, Receiver() as receiver, \
            FakeDeepgram(transcripts=["please stop calling me"]) as deepgram, \
            instance(database_url, data_dir, fake) as live, \
            httpx.AsyncClient(base_url=live.url, timeout=30) as http, \
            carrier(fake, live.url, live.services.db) as scripted:  # fmt: skip
        org = await Org(http).setup(callers=1)
        put = await http.put("/api/v1/provider-credentials/deepgram", headers=org.headers,
                             json={"api_key": "deepgram-key-0001", "base_url": deepgram.ws_url})  # fmt: skip
        assert put.status_code == 200, put.text
        put = await http.put("/api/v1/provider-settings", headers=org.headers,
                             json={"stt": {"provider": "deepgram"}})  # fmt: skip
        assert put.status_code == 200, put.text
        r = await http.patch(f"/api/v1/workflows/{org.workflow_id}", headers=org.headers,
                             json={"definition": OPT_OUT_WORKFLOW})  # fmt: skip
        assert r.status_code == 200, r.text
        r = await http.post(f"/api/v1/workflows/{org.workflow_id}/publish", json={},
                            headers=org.headers)  # fmt: skip
        assert r.status_code == 201, r.text
        hook = await http.post("/api/v1/webhooks", headers=org.headers, json={
            "url": f"{receiver.http_url}/hook",
            "events": ["campaign.started", "campaign.contact_completed", "campaign.completed"]})  # fmt: skip
        assert hook.status_code == 201, hook.text
        scripted.script = {numbers[0]: ["media"], numbers[1]: ["media-opt-out"],
                           numbers[2]: ["busy", "media"]}  # fmt: skip
        campaign_id = await org.campaign(
            [{"phone_number": n, "variables": {"first_name": f"P{i}"}} for i, n in enumerate(numbers)],
            max_concurrent_calls=2, retry={"retry_on": ["busy"], "backoff_seconds": 0},
            voicemail={"detect": False},
        )  # fmt: skip
        assert (await org.act(campaign_id, "start")).status_code == 200
        done = await org.wait_state(campaign_id, "completed", timeout=180)
        contacts = {c["phone_number"]: c for c in await org.contacts(campaign_id)}
        assert [(contacts[n]["state"], contacts[n]["attempts"]) for n in numbers] == [
            ("completed", 1),
            ("completed", 1),
            ("completed", 2),
        ]
        assert len(scripted.media_calls) == 3 and fake.max_active <= 2
        assert done["progress"]["minutes"] > 0
        for number in numbers:  # each answered call ran the pipeline and kept its records
            call_id = uuid.UUID(contacts[number]["calls"][-1]["call_id"])
            row = await calls_db.get(live.services.db, uuid.UUID(org.org), call_id)
            assert row is not None and row["answered_at"] is not None
            assert row["direction"] == "outbound" and row["to_number"] == number
            turns = await calls_db.list_turns(live.services.db, uuid.UUID(org.org), call_id)
            assert any(t["speaker"] == "agent" for t in turns)

        # the person who asked not to be called again is on the list (the call.ended job)
        async def listed() -> None:
            while (await http.get("/api/v1/do-not-call/%2B12025550302",
                                  headers=org.headers)).status_code != 200:  # fmt: skip
                await asyncio.sleep(0.2)

        await asyncio.wait_for(listed(), 30)
        entry = (await http.get("/api/v1/do-not-call/%2B12025550302", headers=org.headers)).json()
        assert entry["source"] == "opt_out"
        assert (await http.get("/api/v1/do-not-call/%2B12025550301",
                               headers=org.headers)).status_code == 404  # fmt: skip

        async def delivered() -> None:
            while (
                not any(e["type"] == "campaign.completed" for e in receiver.events)
                or sum(e["type"] == "campaign.contact_completed" for e in receiver.events) < 3
            ):
                await asyncio.sleep(0.2)

        await asyncio.wait_for(delivered(), 30)
        types = [e["type"] for e in receiver.events]
        assert types.count("campaign.started") == 1 and types.count("campaign.completed") == 1
        completed = [e["data"] for e in receiver.events if e["type"] == "campaign.contact_completed"]
        assert {d["phone_number"] for d in completed} == set(numbers)
        assert all(d["campaign_id"] == campaign_id and d["outcome"] == "completed" for d in completed)
