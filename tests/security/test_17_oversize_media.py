"""Finding 17: a media message over the serializer's 64 KiB limit is dropped by the
serializer; it must not close the call (uvicorn's ``ws_max_size`` is larger)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from loadgen.callers.twilio import MediaStream, stream_of
from telephony.guarded_serializer import MAX_MEDIA_MESSAGE_BYTES
from tests.security.twilio_env import SID, PhoneEnv, phone_env

pytestmark = pytest.mark.realtime


@pytest.fixture(scope="module")
async def env(database_url: str, data_dir: Path) -> AsyncIterator[PhoneEnv]:
    async with phone_env(database_url, data_dir) as e:
        yield e


async def test_an_oversize_media_message_does_not_end_the_call(env: PhoneEnv) -> None:
    sid = "CA" + "0" * 30 + "17"
    r = await env.twilio.voice_webhook(env.number, "+14155550100", call_sid=sid)
    assert r.status_code == 200, r.text
    url, params = stream_of(r.text)
    stream = await MediaStream.open(env.twilio.to_loopback(url), params, sid, SID)
    try:
        await stream.wait_for_bot_speech(0.3)
        payload = "A" * (MAX_MEDIA_MESSAGE_BYTES + 1000)
        oversize = json.dumps({"event": "media", "media": {"payload": payload}})
        await stream.send_raw(oversize)
        await asyncio.sleep(1.0)
        assert not stream.closed.is_set(), stream.close_code
        [row] = [c for c in await env.calls() if c["carrier_call_id"] == sid]
        assert row["ended_at"] is None
    finally:
        await stream.close()
