"""Finding 5 (instance half): ``MAX_LIVE_CALLS`` caps what one instance carries. Past it,
browser and API calls get a 503 with ``Retry-After`` and inbound phone calls the carrier's
busy markup, and nothing is created for them; with ``WORKERS > 1`` and no Redis the server
refuses to start (each worker would keep its own limits)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from loadgen.callers.twilio import parse_twiml
from server.settings import SettingsError, load_settings
from tests.security.twilio_env import PhoneEnv, phone_env
from tests.security.webrtc_env import audio_offer

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def env(database_url: str, data_dir: Path) -> AsyncIterator[PhoneEnv]:
    # a peer that has not connected keeps its place for the whole test
    async with phone_env(database_url, data_dir, max_live_calls=1,
                         webrtc_connect_timeout_seconds=60) as e:  # fmt: skip
        yield e


async def test_a_full_instance_refuses_new_calls(env: PhoneEnv) -> None:
    first, offer = await audio_offer()
    others = []
    try:
        r = await env.http.post("/api/v1/webrtc/offer", headers=env.headers,
                                json={**offer, "workflow_id": env.workflow_id})  # fmt: skip
        assert r.status_code == 200, r.text
        held = r.json()["call_id"]
        before = len(await env.calls())

        caller, offer = await audio_offer()
        others.append(caller)
        r = await env.http.post("/api/v1/webrtc/offer", headers=env.headers,
                                json={**offer, "workflow_id": env.workflow_id})  # fmt: skip
        assert r.status_code == 503, r.text
        assert int(r.headers["retry-after"]) > 0
        r = await env.http.post("/api/v1/calls", headers=env.headers, json={
            "to": "+14155550123", "workflow_id": env.workflow_id})  # fmt: skip
        assert r.status_code == 503 and int(r.headers["retry-after"]) > 0, r.text
        assert env.fake.calls == {}  # nothing was dialed
        r = await env.twilio.voice_webhook(env.number, "+14155550100")
        assert r.status_code == 200
        reject = parse_twiml(r.text).find("Reject")
        assert reject is not None and reject.get("reason") == "busy", r.text
        assert len(await env.calls()) == before  # no row for any refused call

        # once the held call ends, the instance takes calls again
        r = await env.http.post(f"/api/v1/calls/{held}/hangup", headers=env.headers)
        assert r.status_code == 202, r.text
        row = None
        for _ in range(100):
            row = await env.call(held)
            if row["ended_at"] is not None:
                break
            await asyncio.sleep(0.05)
        assert row is not None and row["ended_at"] is not None
        r = await env.twilio.voice_webhook(env.number, "+14155550100")
        assert r.status_code == 200 and "<Stream" in r.text, r.text
    finally:
        await first.close()
        for caller in others:
            await caller.close()


def test_several_workers_without_redis_refuse_to_start() -> None:
    with pytest.raises(SettingsError, match="REDIS_URL"):
        load_settings(workers=2, redis_url="")
    assert load_settings(workers=2, redis_url="redis://127.0.0.1:6379/0").workers == 2
    assert load_settings(workers=1, redis_url="").workers == 1
