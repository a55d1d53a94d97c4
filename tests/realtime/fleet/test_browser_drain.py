"""A browser call on an instance that drains: after the grace period the caller hears the
goodbye, the call ends as ``server_shutdown``, the browser's data channel closes (the
console's voice.js leaves "Connected" on that at once), and new offers get a 503."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import httpx

from db import calls as calls_db
from loadgen.callers.webrtc import WebRTCCaller
from server.calls.drain import drain_calls
from tests.conftest import make_settings, run_server
from tests.realtime.server.test_webrtc_calls import connect, publish_workflow, wait_for_end

WORKFLOW = {
    "nodes": [
        {"id": "start", "type": "start", "greeting": "Hello from the draining line.",
         "say": "How can I help?"},
        {"id": "bye", "type": "end", "say": "Goodbye."},
    ],
    "edges": [{"from": "start", "to": "bye", "condition": "goodbye bye"}],
}  # fmt: skip


async def test_a_draining_instance_ends_a_browser_call_with_a_goodbye(
    database_url: str, data_dir: Path
) -> None:
    settings = make_settings(database_url, data_dir, shutdown_grace_seconds=0.5)
    async with run_server(settings) as live, httpx.AsyncClient(base_url=live.url, timeout=30) as http:
        r = await http.post("/api/v1/auth/signup", json={
            "email": f"drain-{uuid.uuid4().hex[:8]}@example.com",
            "password": "correct horse battery"})  # fmt: skip
        headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
        workflow_id = await publish_workflow(http, headers, WORKFLOW)
        caller, call_id = await connect(http, headers, workflow_id)
        try:
            await caller.wait_for_speech(frames=10, timeout=60)
            await drain_calls(live.services)  # what SIGTERM starts
            call = await wait_for_end(http, headers, call_id)
            turns = await calls_db.list_turns(live.services.db, uuid.UUID(r.json()["organization_id"]),
                                              uuid.UUID(call_id))  # fmt: skip
            assert turns[-1]["speaker"] == "agent"
            assert turns[-1]["text"] == settings.shutdown_goodbye  # the goodbye was spoken
            # the server closed the peer: its data channel closes, which is what the console's
            # voice.js leaves "Connected" on

            async def closed() -> None:
                while caller.channel.readyState != "closed":
                    await asyncio.sleep(0.05)

            await asyncio.wait_for(closed(), 10)
            late = WebRTCCaller()
            offer = await late.offer()
            await late.close()
            refused = await http.post("/api/v1/webrtc/offer", headers=headers,
                                      json={**offer, "workflow_id": workflow_id})  # fmt: skip
            assert refused.status_code == 503 and refused.json()["error"]["code"] == "draining"
        finally:
            await caller.close()
    assert (call["status"], call["end_reason"]) == ("completed", "server_shutdown")
