"""Finding 7 (server side): one stream per call and one token per call. A replayed answer
webhook mints no new stream token once the call's stream connected, and the media websocket
refuses a second stream for a call that already has one, whatever token it brings."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from db import carriers as carriers_db
from loadgen.callers.twilio import MediaStream, stream_of
from server.calls.phone.streams import token_hash
from tests.security.twilio_env import SID, PhoneEnv, phone_env

pytestmark = pytest.mark.realtime


@pytest.fixture(scope="module")
async def env(database_url: str, data_dir: Path) -> AsyncIterator[PhoneEnv]:
    async with phone_env(database_url, data_dir) as e:
        yield e


async def _second_stream(env: PhoneEnv, token: str, call_sid: str) -> int | None:
    start = json.dumps({"event": "start", "streamSid": "MZ2", "start": {
        "streamSid": "MZ2", "callSid": call_sid, "customParameters": {"token": token},
        "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}})  # fmt: skip
    async with connect(env.server.ws_url + "/telephony/twilio/stream") as ws:
        await ws.send(start)
        with pytest.raises(ConnectionClosed):
            for _ in range(200):
                await ws.recv()
        return ws.close_code


async def test_one_token_and_one_stream_per_call(env: PhoneEnv) -> None:
    call = await env.dial()
    created = await env.fake.wait_for(lambda q: call["id"] in (q.get("StatusCallback") or ""))
    sid = call["carrier_call_id"]
    answer = {"CallSid": sid, "AccountSid": SID, "CallStatus": "in-progress"}
    r = await env.twilio.signed_post(created.get("Url"), answer)
    assert r.status_code == 200, r.text
    url, params = stream_of(r.text)
    stream = await MediaStream.open(env.twilio.to_loopback(url), params, sid, SID)
    try:
        await stream.wait_for_bot_speech(0.3)
        # the answer webhook, replayed as it was (the replay window refuses it) or signed
        # anew by the carrier (a retry): no new stream token either way
        replay = await env.twilio.signed_post(created.get("Url"), answer)
        assert "<Stream" not in replay.text and "token" not in replay.text, replay.text
        retry = await env.twilio.signed_post(created.get("Url"), {**answer, "Retry": "1"})
        assert retry.status_code == 200 and "<Stream" not in retry.text, retry.text
        # a second stream with a valid token for the same, live call: refused
        token = "second-" + uuid.uuid4().hex
        row = await env.call(call["id"])
        await carriers_db.add_stream_token(env.db, row["organization_id"], row["id"], token_hash(token),
                                           datetime.now(UTC) + timedelta(minutes=1))  # fmt: skip
        assert await _second_stream(env, token, sid) == 1008
        assert not stream.closed.is_set()  # the first stream goes on
    finally:
        await stream.close()
