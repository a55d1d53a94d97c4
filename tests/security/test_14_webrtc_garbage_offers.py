"""Finding 14: garbage WebRTC offers must not start calls. An offer that is not SDP with an
audio m-line is a 400 naming ``sdp`` and creates nothing (no row, no slot); a peer that
never connects releases its slot within seconds and is neither billed nor recorded as
completed."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import LiveServer, make_settings, run_server
from tests.security.webrtc_env import audio_offer, call_rows, tenant, usage_of, video_only_offer, wait_ended

pytestmark = pytest.mark.integration
CONNECT_TIMEOUT = 1.0


@pytest.fixture(scope="module")
async def live(database_url: str, data_dir: Path) -> AsyncIterator[LiveServer]:
    settings = make_settings(database_url, data_dir, webrtc_connect_timeout_seconds=CONNECT_TIMEOUT)
    async with run_server(settings) as server:
        yield server


async def test_offers_that_are_not_audio_sdp_create_nothing(live: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=live.url, timeout=30) as http:
        headers, org, workflow_id = await tenant(http)
        for sdp in ("hello", "v=0\r\n", await video_only_offer()):
            r = await http.post("/api/v1/webrtc/offer", headers=headers,
                                json={"sdp": sdp, "type": "offer", "workflow_id": workflow_id})  # fmt: skip
            assert r.status_code == 400, r.text
            assert r.json()["error"]["details"][0]["pointer"] == "/body/sdp"
        assert await call_rows(live, org) == []
        assert await live.services.limiter.count(org) == 0


async def test_a_peer_that_never_connects_is_released_and_not_billed(live: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=live.url, timeout=30) as http:
        headers, org, workflow_id = await tenant(http)
        caller, offer = await audio_offer()
        await caller.close()  # the browser goes away before any ICE/DTLS
        r = await http.post("/api/v1/webrtc/offer", headers=headers,
                            json={**offer, "workflow_id": workflow_id})  # fmt: skip
        assert r.status_code == 200, r.text
        call_id = r.json()["call_id"]
        row = await wait_ended(live, org, call_id, within=CONNECT_TIMEOUT + 10)
        assert row["status"] != "completed" and row["end_reason"] == "never_connected", dict(row)
        assert row["answered_at"] is None
        assert await usage_of(live, org, call_id) == []
        assert await live.services.limiter.count(org) == 0
        assert str(uuid.UUID(call_id)) not in live.services.live_calls.running
