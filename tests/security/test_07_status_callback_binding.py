"""Finding 7 (status callbacks bound to their call): a carrier-signed status callback for
call A, replayed against call B's callback URL, must not change call B (e.g. a Telnyx
``call.hangup`` for A ending B: Telnyx does not sign the URL)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.security.twilio_env import PUBLIC, PhoneEnv, phone_env

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def env(database_url: str, data_dir: Path) -> AsyncIterator[PhoneEnv]:
    async with phone_env(database_url, data_dir) as e:
        yield e


async def test_a_status_for_another_call_changes_nothing(env: PhoneEnv) -> None:
    a, b = await env.dial(), await env.dial()
    b_status = f"{PUBLIC}/telephony/twilio/status?call={b['id']}"
    # correctly signed for B's URL, but about A
    for status in ("ringing", "completed"):
        r = await env.twilio.signed_post(b_status, {"CallSid": a["carrier_call_id"], "CallStatus": status})
        assert r.status_code in (200, 204), r.text
    await asyncio.sleep(0.2)
    row = await env.call(b["id"])
    assert row["ended_at"] is None and row["status"] == "queued", dict(row)
    # B's own callbacks still work
    r = await env.twilio.signed_post(b_status, {"CallSid": b["carrier_call_id"], "CallStatus": "ringing"})
    assert r.status_code == 204
    assert (await env.call(b["id"]))["status"] == "ringing"
    r = await env.twilio.signed_post(b_status, {"CallSid": b["carrier_call_id"], "CallStatus": "busy"})
    assert r.status_code == 204
    ended = await env.call(b["id"])
    assert (ended["status"], ended["ended_at"] is not None) == ("busy", True)
    # and A is untouched by all of it
    assert (await env.call(a["id"]))["ended_at"] is None
