"""Helpers for the browser-call security tests: a server, a tenant with a published
workflow, and browser offers made by a real aiortc peer."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
from aiortc import RTCPeerConnection

from db import calls as calls_db
from db import usage as usage_db
from loadgen.callers.webrtc import WebRTCCaller
from tests.conftest import LiveServer

WORKFLOW = {
    "nodes": [{"id": "start", "type": "start", "greeting": "Hello.", "say": "How can I help?"},
              {"id": "bye", "type": "end", "say": "Goodbye."}],
    "edges": [{"from": "start", "to": "bye", "condition": "goodbye bye"}],
}  # fmt: skip


async def tenant(http: httpx.AsyncClient) -> tuple[dict[str, str], str, str]:
    """(headers, organization id, published workflow id) of a new signup."""
    r = await http.post("/api/v1/auth/signup", json={
        "email": f"rtc-{uuid.uuid4().hex[:8]}@example.com", "password": "correct horse battery"})  # fmt: skip
    assert r.status_code == 201, r.text
    headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
    wf = await http.post("/api/v1/workflows", headers=headers, json={"name": "rtc", "definition": WORKFLOW})
    workflow_id = wf.json()["id"]
    pub = await http.post(f"/api/v1/workflows/{workflow_id}/publish", json={}, headers=headers)
    assert pub.status_code == 201, pub.text
    return headers, r.json()["organization_id"], workflow_id


async def audio_offer() -> tuple[WebRTCCaller, dict[str, str]]:
    caller = WebRTCCaller()
    return caller, await caller.offer()


async def video_only_offer() -> str:
    pc = RTCPeerConnection()
    pc.addTransceiver("video")
    await pc.setLocalDescription(await pc.createOffer())
    sdp = pc.localDescription.sdp
    await pc.close()
    return sdp


async def call_rows(server: LiveServer, org: str) -> list[Any]:
    return list(await calls_db.list_for_org(server.services.db, uuid.UUID(org), limit=1000))


async def usage_of(server: LiveServer, org: str, call_id: str) -> list[Any]:
    return list(await usage_db.for_call(server.services.db, uuid.UUID(org), uuid.UUID(call_id)))


async def wait_ended(server: LiveServer, org: str, call_id: str, within: float) -> Any:
    async with asyncio.timeout(within):
        while True:
            row = await calls_db.get(server.services.db, uuid.UUID(org), uuid.UUID(call_id))
            if row is not None and row["ended_at"] is not None:
                return row
            await asyncio.sleep(0.1)
