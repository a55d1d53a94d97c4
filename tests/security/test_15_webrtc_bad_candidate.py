"""Finding 15 (WebRTC): ``PATCH /api/v1/webrtc/offer`` with a malformed ICE candidate is a
4xx naming the field, never a 500."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import LiveServer
from tests.security.webrtc_env import audio_offer, tenant

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("candidate", ["garbage", "1 1 udp x 1.2.3.4 5 typ host", "candidate:"])
async def test_a_malformed_candidate_is_a_4xx_naming_it(server: LiveServer, candidate: str) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        headers, _, workflow_id = await tenant(http)
        caller, offer = await audio_offer()
        try:
            r = await http.post("/api/v1/webrtc/offer", headers=headers,
                                json={**offer, "workflow_id": workflow_id})  # fmt: skip
            assert r.status_code == 200, r.text
            pc_id, call_id = r.json()["pc_id"], r.json()["call_id"]
            good = {"candidate": "candidate:1 1 udp 2122260223 127.0.0.1 40000 typ host",
                    "sdp_mid": "0", "sdp_mline_index": 0}  # fmt: skip
            bad = {"candidate": candidate, "sdp_mid": "0", "sdp_mline_index": 0}
            r = await http.patch("/api/v1/webrtc/offer", headers=headers,
                                 json={"pc_id": pc_id, "candidates": [good, bad]})  # fmt: skip
            assert 400 <= r.status_code < 500, r.text
            assert r.json()["error"]["details"][0]["pointer"] == "/body/candidates/1/candidate"
            r = await http.patch("/api/v1/webrtc/offer", headers=headers,
                                 json={"pc_id": pc_id, "candidates": [good]})  # fmt: skip
            assert r.status_code == 204, r.text
            hangup = await http.post(f"/api/v1/calls/{call_id}/hangup", headers=headers)
            assert hangup.status_code == 202, hangup.text
        finally:
            await caller.close()
