"""Finding 13 (server half): a media stream whose handshake announces a sample rate the
carrier does not stream (1 Hz once spun the whole server) is closed with 1008, marks
nothing in progress, and the server keeps answering."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from loadgen.callers.twilio import stream_of
from tests.security.twilio_env import PhoneEnv, phone_env

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def env(database_url: str, data_dir: Path) -> AsyncIterator[PhoneEnv]:
    async with phone_env(database_url, data_dir) as e:
        yield e


@pytest.mark.parametrize("rate", [44_100, 1, 10_000_000])
async def test_an_unsupported_sample_rate_is_refused(env: PhoneEnv, rate: int) -> None:
    sid = f"CA{rate:032d}"
    r = await env.twilio.voice_webhook(env.number, "+14155550100", call_sid=sid)
    assert r.status_code == 200, r.text
    _, params = stream_of(r.text)
    start = json.dumps({"event": "start", "streamSid": "MZ1", "start": {
        "streamSid": "MZ1", "callSid": sid, "customParameters": params,
        "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": rate, "channels": 1}}})  # fmt: skip
    async with connect(env.server.ws_url + "/telephony/twilio/stream") as ws:
        await ws.send(start)
        with pytest.raises(ConnectionClosed):
            for _ in range(200):
                await ws.recv()
        assert ws.close_code == 1008
    [row] = [c for c in await env.calls() if c["carrier_call_id"] == sid]
    assert row["status"] == "queued" and row["answered_at"] is None
    assert (await env.http.get("/health/live")).status_code == 200
