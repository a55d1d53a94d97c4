"""Finding 10 (server half): the voice webhook must not tell who has a number. An unsigned
or forged request for a registered number and a request for an unknown number get the same
status and body, and neither creates anything."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.security.twilio_env import PhoneEnv, phone_env

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def env(database_url: str, data_dir: Path) -> AsyncIterator[PhoneEnv]:
    async with phone_env(database_url, data_dir) as e:
        yield e


async def test_unknown_and_forged_are_answered_alike(env: PhoneEnv) -> None:
    before = len(await env.calls())
    forged = await env.twilio.voice_webhook(env.number, "+14155550100", token="not-the-token")
    unknown = await env.twilio.voice_webhook("+14155550999", "+14155550100")
    unsigned = await env.twilio.http.post(
        env.twilio.to_loopback(env.twilio.public_url + "/telephony/twilio/voice"),
        data=env.twilio.voice_form(env.number, "+14155550100"),
    )
    unknown_unsigned = await env.twilio.http.post(
        env.twilio.to_loopback(env.twilio.public_url + "/telephony/twilio/voice"),
        data=env.twilio.voice_form("+14155550998", "+14155550100"),
    )
    answers = {(r.status_code, r.headers.get("content-type"), r.text)
               for r in (forged, unknown, unsigned, unknown_unsigned)}  # fmt: skip
    assert len(answers) == 1, answers
    assert forged.status_code >= 400
    assert len(await env.calls()) == before
    # the genuine webhook still gets its markup
    genuine = await env.twilio.voice_webhook(env.number, "+14155550100")
    assert genuine.status_code == 200 and "<Stream" in genuine.text
