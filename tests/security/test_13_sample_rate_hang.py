"""Finding 13: a media stream whose ``start`` says ``sampleRate`` 1-99 hung the whole server
(pipecat's output chunk size became 0 and its chunking loop spun without yielding); 0,
negative and huge rates killed VAD, crashed the recording thread or flooded the caller.

Every carrier now validates its media format against what the carrier documents (8 or
16 kHz, its encodings) and refuses anything else with ``HandshakeInvalid`` (closed 1008);
and no carrier builds a serializer for an unsupported rate, whoever built the start. A
server sent the sample-rate-1 stream with a valid token refuses it and keeps answering
``/health/live``."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from loadgen.callers.twilio import TwilioEmulator, stream_of
from telephony.contract import HandshakeInvalid, StreamStart
from telephony.registry import CARRIERS, make_provider
from tests.conftest import make_settings, run_server
from tests.fakes.carriers.twilio_rest import FakeTwilioRest
from tests.security.carrier_handshakes import HANDSHAKES

pytestmark = pytest.mark.integration  # one server test below; the rest are in-process

BAD_RATES = ["1", "50", "99", "0", "-8000", "10000000", "8001", "44100"]


@pytest.mark.parametrize("carrier", sorted(CARRIERS))
@pytest.mark.parametrize("rate", BAD_RATES)
def test_unsupported_sample_rate_is_refused_at_the_handshake(carrier: str, rate: str) -> None:
    provider = make_provider(carrier, {}, api_base_urls={})
    value = f'"{rate}"' if carrier == "exotel" else rate  # Exotel writes the rate as a string
    with pytest.raises(HandshakeInvalid):
        provider.parse_stream_start(HANDSHAKES[carrier](value), {})


@pytest.mark.parametrize("carrier", sorted(CARRIERS))
def test_documented_rate_is_accepted(carrier: str) -> None:
    provider = make_provider(carrier, {}, api_base_urls={})
    start = provider.parse_stream_start(HANDSHAKES[carrier](), {})
    assert start is not None and start.sample_rate in (8000, 16000)
    assert provider.serializer(start) is not None


@pytest.mark.parametrize("carrier", sorted(CARRIERS))
@pytest.mark.parametrize("rate", [1, 99, 0, -8000, 10**7])
def test_a_bad_rate_never_reaches_a_serializer(carrier: str, rate: int) -> None:
    """Even a ``StreamStart`` built by hand (not by the handshake) gets no serializer."""
    provider = make_provider(carrier, {}, api_base_urls={})
    start = StreamStart("c1", "s1", {}, rate, "mulaw" if carrier in ("twilio", "plivo") else "linear16")
    if carrier == "telnyx":
        start = StreamStart("c1", "s1", {}, rate, "PCMU")
    with pytest.raises(HandshakeInvalid):
        provider.serializer(start)


SID, TOKEN, PUBLIC = "AC" + "5" * 32, "rate-token", "https://rate.example.test"
WORKFLOW = {
    "nodes": [{"id": "start", "type": "start", "greeting": "Hello there, this is a long greeting."},
              {"id": "bye", "type": "end", "say": "Goodbye."}],
    "edges": [{"from": "start", "to": "bye", "condition": "goodbye bye"}],
}  # fmt: skip


async def test_server_refuses_sample_rate_1_stream_and_stays_healthy(
    database_url: str, data_dir: Path
) -> None:
    async with FakeTwilioRest(SID, TOKEN) as fake:
        settings = make_settings(database_url, data_dir, public_url=PUBLIC, twilio_api_base_url=fake.http_url)
        async with run_server(settings) as live, httpx.AsyncClient(base_url=live.url, timeout=30) as http:
            r = await http.post(
                "/api/v1/auth/signup",
                json={
                    "email": f"rate-{uuid.uuid4().hex[:8]}@example.com",
                    "password": "correct horse battery",
                },
            )
            headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
            wf = await http.post(
                "/api/v1/workflows", headers=headers, json={"name": "w", "definition": WORKFLOW}
            )
            pub = await http.post(f"/api/v1/workflows/{wf.json()['id']}/publish", json={}, headers=headers)
            assert pub.status_code == 201, pub.text
            acct = await http.post(
                "/api/v1/carriers",
                headers=headers,
                json={
                    "carrier": "twilio",
                    "name": "t",
                    "credentials": {"account_sid": SID, "auth_token": TOKEN},
                },
            )
            number = f"+1415222{uuid.uuid4().int % 10000:04d}"
            pn = await http.post(
                "/api/v1/phone-numbers",
                headers=headers,
                json={
                    "number": number,
                    "carrier_account_id": acct.json()["id"],
                    "workflow_id": wf.json()["id"],
                },
            )
            assert pn.status_code == 201, pn.text

            twilio = TwilioEmulator(live.url, PUBLIC, SID, TOKEN)
            call_sid = "CA" + uuid.uuid4().hex
            answer = await twilio.voice_webhook(number, "+14155550100", call_sid=call_sid)
            assert answer.status_code == 200, answer.text
            url, params = stream_of(answer.text)
            async with connect(twilio.to_loopback(url)) as ws:
                await ws.send(json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"}))
                await ws.send(
                    json.dumps(
                        {
                            "event": "start",
                            "streamSid": "MZ1",
                            "start": {
                                "streamSid": "MZ1",
                                "callSid": call_sid,
                                "customParameters": params,
                                "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 1, "channels": 1},
                            },
                        }
                    )
                )
                with pytest.raises(ConnectionClosed):
                    while True:
                        await asyncio.wait_for(ws.recv(), 10)
                assert ws.close_code == 1008
            for _ in range(3):
                assert (await http.get("/health/live", timeout=5)).status_code == 200
            await twilio.aclose()
