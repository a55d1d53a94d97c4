"""Finding 17 (WebRTC): renegotiation with garbage SDP is a 400, and a renegotiation
(even with ``restart_pc``) answers with a ``pc_id`` that PATCH and later renegotiations
accept."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import LiveServer
from tests.security.webrtc_env import audio_offer, tenant

pytestmark = pytest.mark.integration


async def test_renegotiation_input_and_pc_id(server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        headers, _, workflow_id = await tenant(http)
        caller, offer = await audio_offer()
        second, second_offer = await audio_offer()
        try:
            r = await http.post("/api/v1/webrtc/offer", headers=headers,
                                json={**offer, "workflow_id": workflow_id})  # fmt: skip
            assert r.status_code == 200, r.text
            pc_id, call_id = r.json()["pc_id"], r.json()["call_id"]
            garbage = await http.post("/api/v1/webrtc/offer", headers=headers, json={
                "sdp": "hello", "type": "offer", "workflow_id": workflow_id, "pc_id": pc_id})  # fmt: skip
            assert garbage.status_code == 400, garbage.text
            assert "pc_id" not in garbage.json()
            restarted = await http.post("/api/v1/webrtc/offer", headers=headers, json={
                **second_offer, "workflow_id": workflow_id, "pc_id": pc_id, "restart_pc": True})  # fmt: skip
            assert restarted.status_code == 200, restarted.text
            assert restarted.json()["call_id"] == call_id
            usable = restarted.json()["pc_id"]
            candidate = {"candidate": "candidate:1 1 udp 2122260223 127.0.0.1 40000 typ host",
                         "sdp_mid": "0", "sdp_mline_index": 0}  # fmt: skip
            patched = await http.patch("/api/v1/webrtc/offer", headers=headers,
                                       json={"pc_id": usable, "candidates": [candidate]})  # fmt: skip
            assert patched.status_code == 204, patched.text
            hangup = await http.post(f"/api/v1/calls/{call_id}/hangup", headers=headers)
            assert hangup.status_code == 202, hangup.text
        finally:
            await caller.close()
            await second.close()
