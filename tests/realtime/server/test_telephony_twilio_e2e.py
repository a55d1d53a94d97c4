"""Twilio end to end: the emulator calls a real server (behind a PUBLIC_URL it cannot serve
directly, like a tunnel) whose calls run through the real pipeline with the offline
engines; outbound calls go through the twilio SDK to the fake Twilio REST server."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import numpy as np
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from db import calls as calls_db
from db import carriers as carriers_db
from db import usage as usage_db
from loadgen.callers.twilio import MediaStream, TwilioEmulator, parse_twiml, stream_of
from server.calls.phone.streams import token_hash
from tests.conftest import LiveServer, make_settings, run_server
from tests.fakes.carriers.twilio_rest import FakeTwilioRest

PUBLIC = "https://switchboard.example.test"
SID = "AC" + "7" * 32
TOKEN = "e2e-twilio-auth-token"

WORKFLOW = {
    "nodes": [
        {
            "id": "start",
            "type": "start",
            "greeting": "Hello, thanks for calling the booking line. Before we start, let me "
            "tell you about our opening hours, our menu of the week, the special offers for "
            "groups, and the many ways you can reach us.",
            "say": "How can I help you?",
        },
        {"id": "booking", "type": "agent",
         "say": "Sure, I can book a table for you. For how many people?"},
        {"id": "bye", "type": "end", "say": "Goodbye."},
    ],
    "edges": [
        {"from": "start", "to": "booking", "condition": "hello book table help reservation"},
        {"from": "booking", "to": "bye", "condition": "goodbye bye"},
    ],
}  # fmt: skip


class Env:
    def __init__(self, server: LiveServer, fake: FakeTwilioRest, http: httpx.AsyncClient):
        self.server, self.fake, self.http = server, fake, http
        self.twilio = TwilioEmulator(server.url, PUBLIC, SID, TOKEN)
        self.headers: dict[str, str] = {}
        self.org = ""
        self.workflow_id = ""
        self.number = ""

    @property
    def db(self) -> Any:
        return self.server.services.db

    async def calls(self) -> list[Any]:
        return list(await calls_db.list_for_org(self.db, uuid.UUID(self.org), limit=1000))

    async def wait_ended(self, call_id: str, timeout: float = 20) -> Any:
        async def ended() -> Any:
            while True:
                row = await calls_db.get(self.db, uuid.UUID(self.org), uuid.UUID(call_id))
                if row is not None and row["ended_at"] is not None:
                    return row
                await asyncio.sleep(0.1)

        return await asyncio.wait_for(ended(), timeout)


@pytest.fixture(scope="module")
async def env(database_url: str, data_dir: Any) -> AsyncIterator[Env]:
    async with FakeTwilioRest(SID, TOKEN) as fake:
        settings = make_settings(database_url, data_dir, public_url=PUBLIC, twilio_api_base_url=fake.http_url)
        async with run_server(settings) as live, httpx.AsyncClient(base_url=live.url, timeout=30) as http:
            e = Env(live, fake, http)
            email = f"tel-{uuid.uuid4().hex[:8]}@example.com"
            r = await http.post("/api/v1/auth/signup",
                                json={"email": email, "password": "correct horse battery"})  # fmt: skip
            assert r.status_code == 201, r.text
            e.headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
            e.org = r.json()["organization_id"]
            wf = await http.post("/api/v1/workflows", headers=e.headers,
                                 json={"name": "booking", "definition": WORKFLOW})  # fmt: skip
            assert wf.status_code == 201, wf.text
            e.workflow_id = wf.json()["id"]
            pub = await http.post(f"/api/v1/workflows/{e.workflow_id}/publish", json={},
                                  headers=e.headers)  # fmt: skip
            assert pub.status_code == 201, pub.text
            acct = await http.post("/api/v1/carriers", headers=e.headers, json={
                "carrier": "twilio", "name": "main",
                "credentials": {"account_sid": SID, "auth_token": TOKEN}})  # fmt: skip
            assert acct.status_code == 201, acct.text
            e.number = f"+1415666{uuid.uuid4().int % 10000:04d}"
            pn = await http.post("/api/v1/phone-numbers", headers=e.headers, json={
                "number": e.number, "carrier_account_id": acct.json()["id"],
                "workflow_id": e.workflow_id})  # fmt: skip
            assert pn.status_code == 201, pn.text
            yield e
            await e.twilio.aclose()


async def open_stream(env: Env, twiml: str, call_sid: str) -> MediaStream:
    url, params = stream_of(twiml)
    assert url == "wss://switchboard.example.test/telephony/twilio/stream"
    return await MediaStream.open(env.twilio.to_loopback(url), params, call_sid, SID)


async def test_inbound_call_full_conversation_with_barge_in(env: Env) -> None:
    call_sid = "CA" + uuid.uuid4().hex
    r = await env.twilio.voice_webhook(env.number, "+14155550100", call_sid=call_sid)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/xml")
    _, params = stream_of(r.text)
    assert set(params) == {"token"} and len(params["token"]) >= 32
    [row] = [c for c in await env.calls() if c["carrier_call_id"] == call_sid]
    assert (row["direction"], row["carrier"], row["to_number"]) == ("inbound", "twilio", env.number)

    stream = await open_stream(env, r.text, call_sid)
    try:
        greeting = await stream.wait_for_bot_speech(1.0)
        assert greeting
        # Twilio takes any size: the bot's audio comes 100 ms a message, not pipecat's 40
        assert set(stream.bot_message_ms) == {100}, stream.bot_message_ms
        # a malformed media message mid-call is dropped, the call goes on
        await stream.send_raw('{"event": "media", "media": {"payload": "%%%not-base64"}}')
        await stream.send_raw("not json at all")
        # barge in while the long greeting is still playing: Twilio gets a `clear`
        barge_at = asyncio.get_running_loop().time()
        await stream.say("Hello, I would like to book a table please.", wait=False)
        await stream.wait_for_clear(after=barge_at - 1e-3)
        reply = await stream.wait_for_bot_speech(0.4)
        assert reply
        await stream.wait_bot_quiet()
        # keypad input is a user turn for the agent, which answers it
        await stream.dtmf("5")
        await stream.dtmf("#")
        assert await stream.wait_for_bot_speech(0.4)
    finally:
        await stream.stop()
    ended = await env.wait_ended(str(row["id"]))
    assert ended["status"] == "completed" and ended["answered_at"] is not None
    assert ended["duration_seconds"] and ended["duration_seconds"] > 1
    org = uuid.UUID(env.org)
    turns = await calls_db.list_turns(env.db, org, row["id"])
    speakers = [t["speaker"] for t in turns]
    assert "user" in speakers and speakers.count("agent") >= 2, speakers
    assert any(t["interrupted"] for t in turns if t["speaker"] == "agent")
    assert any(t["speaker"] == "user" and t["text"] == "DTMF: 5#" for t in turns), turns
    usage = {u["kind"] for u in await usage_db.for_call(env.db, org, row["id"])}
    assert "call_seconds" in usage and "tts_characters" in usage, usage


async def test_rejections_persist_nothing_and_server_keeps_serving(env: Env) -> None:
    before = len(await env.calls())
    # forged signature (wrong auth token): 403
    r = await env.twilio.voice_webhook(env.number, "+14155550100", token="not-the-token")
    assert r.status_code == 403
    # signed for the proxied URL instead of PUBLIC_URL: 403
    form = env.twilio.voice_form(env.number, "+14155550100")
    from loadgen.callers.twilio import twilio_signature

    r = await env.twilio.http.post(
        env.server.url + "/telephony/twilio/voice", data=form,
        headers={"X-Twilio-Signature": twilio_signature(
            TOKEN, env.server.url + "/telephony/twilio/voice", form)},
    )  # fmt: skip
    assert r.status_code == 403
    # unknown number: the same answer as a forged request (no probing which numbers exist)
    forged = await env.twilio.voice_webhook(env.number, "+14155550100", token="not-the-token")
    r = await env.twilio.voice_webhook("+14155550999", "+14155550100")
    assert (r.status_code, r.text) == (forged.status_code, forged.text) == (403, "invalid signature")
    # malformed webhook
    r = await env.twilio.signed_post(PUBLIC + "/telephony/twilio/voice", {"From": "+1"})
    assert r.status_code == 400
    assert len(await env.calls()) == before

    ws_url = env.server.ws_url + "/telephony/twilio/stream"

    async def rejected(*messages: str | bytes) -> int | None:
        async with connect(ws_url, max_size=2**20) as ws:
            for m in messages:
                try:
                    await ws.send(m)
                except ConnectionClosed:
                    break
            with pytest.raises(ConnectionClosed):
                for _ in range(50):
                    await asyncio.wait_for(ws.recv(), 10)
            return ws.close_code

    def start(token: str, call_sid: str = "CA1") -> str:
        import json

        return json.dumps({"event": "start", "streamSid": "MZ1", "start": {
            "streamSid": "MZ1", "callSid": call_sid, "customParameters": {"token": token},
            "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}})  # fmt: skip

    assert await rejected("not json") == 1008
    assert await rejected('{"event": "media"}') == 1008
    assert await rejected("x" * 70_000) in (1008, 1009)
    assert await rejected(start("no-such-token")) == 1008

    # a real call's token: used once (call runs), then replayed (rejected)
    call_sid = "CA" + uuid.uuid4().hex
    r = await env.twilio.voice_webhook(env.number, "+14155550100", call_sid=call_sid)
    token = stream_of(r.text)[1]["token"]
    stream = await open_stream(env, r.text, call_sid)
    await stream.wait_for_bot_speech(0.3)
    assert await rejected(start(token, call_sid)) == 1008
    stream.ws.transport.abort()  # the socket is lost (no `stop`): the call still ends cleanly
    await stream.close()
    # an expired token (minted for that call with a past expiry)
    [row] = [c for c in await env.calls() if c["carrier_call_id"] == call_sid]
    expired = "expired-token-" + uuid.uuid4().hex
    await carriers_db.add_stream_token(env.db, row["organization_id"], row["id"],
                                       token_hash(expired), datetime.now(UTC) - timedelta(1))  # fmt: skip
    assert await rejected(start(expired, call_sid)) == 1008
    lost = await env.wait_ended(str(row["id"]))
    assert (lost["status"], lost["end_reason"]) == ("completed", "caller_hangup")
    assert len(await env.calls()) == before + 1
    assert (await env.http.get("/health/live")).status_code == 200


async def dial(env: Env, **extra: Any) -> dict[str, Any]:
    r = await env.http.post("/api/v1/calls", headers=env.headers, json={
        "to": "+14155550123", "workflow_id": env.workflow_id, **extra})  # fmt: skip
    assert r.status_code == 201, r.text
    return r.json()


async def answer(env: Env, call: dict[str, Any]) -> MediaStream:
    created = await env.fake.wait_for(
        lambda q: q.path.endswith("/Calls.json") and q.get("StatusCallback", ) is not None
        and call["id"] in (q.get("StatusCallback") or "")
    )  # fmt: skip
    status_url = created.get("StatusCallback")
    sid = call["carrier_call_id"]
    for status in ("initiated", "ringing"):
        r = await env.twilio.signed_post(status_url, {"CallSid": sid, "CallStatus": status,
                                                      "AccountSid": SID})  # fmt: skip
        assert r.status_code == 204
    r = await env.twilio.signed_post(created.get("Url"), {"CallSid": sid, "AccountSid": SID,
                                                          "CallStatus": "in-progress"})  # fmt: skip
    assert r.status_code == 200, r.text
    return await open_stream(env, r.text, sid)


async def test_outbound_dtmf_transfer_and_status(env: Env) -> None:
    call = await dial(env)
    assert call["from_number"] == env.number and call["carrier"] == "twilio"
    audit = await env.http.get("/api/v1/audit-log", params={"action": "call.placed"},
                               headers=env.headers)
    placed = [e for e in audit.json()["items"] if e["target_id"] == call["id"]]
    assert placed and placed[0]["details"]["to"] == "+14155550123", audit.text
    created = env.fake.requests[-1]
    assert created.get("To") == "+14155550123" and created.get("From") == env.number
    assert created.get("Url") == f"{PUBLIC}/telephony/twilio/answer?call={call['id']}"
    stream = await answer(env, call)
    try:
        row = await calls_db.get(env.db, uuid.UUID(env.org), uuid.UUID(call["id"]))
        assert row["status"] in ("ringing", "in-progress")
        await stream.wait_for_bot_speech(0.5)
        await stream.wait_bot_quiet(timeout=40)
        mark = len(stream.bot_audio)
        r = await env.http.post(f"/api/v1/calls/{call['id']}/dtmf", json={"digits": "12"},
                                headers=env.headers)  # fmt: skip
        assert r.status_code == 202 and r.json()["delivered"] == "live"
        # in-band DTMF tones come down the media stream: "1" = 697 Hz + 1209 Hz
        await asyncio.wait_for(_audio_after(stream, mark, 0.1), 10)
        tone = stream.bot_pcm(mark)[: 8000 * 2 // 10]
        assert _dominant_frequencies(tone) == {697, 1209}, _dominant_frequencies(tone)
        r = await env.http.post(f"/api/v1/calls/{call['id']}/transfer",
                                json={"to": "+14155550155"}, headers=env.headers)  # fmt: skip
        assert r.status_code == 202, r.text
        sid = call["carrier_call_id"]
        twiml = parse_twiml(env.fake.calls[sid].twiml_updates[-1])
        assert twiml.findtext("./Dial/Number") == "+14155550155"
    finally:
        await stream.close()
    ended = await env.wait_ended(call["id"])
    assert ended["end_reason"] == "transferred"
    bad = await env.twilio.signed_post(f"{PUBLIC}/telephony/twilio/status?call={call['id']}",
                                       {"CallSid": "x", "CallStatus": "completed"},
                                       token="forged")  # fmt: skip
    assert bad.status_code == 403


def _dominant_frequencies(pcm: bytes) -> set[int]:
    """The two strongest DTMF frequencies in ``pcm`` (8 kHz)."""
    samples = np.frombuffer(pcm, dtype=np.int16).astype(np.float64)
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    freqs = np.fft.rfftfreq(len(samples), 1 / 8000)
    dtmf = [697, 770, 852, 941, 1209, 1336, 1477, 1633]
    power = {f: spectrum[np.abs(freqs - f) < 15].max() for f in dtmf}
    return set(sorted(power, key=power.__getitem__)[-2:])


async def _audio_after(stream: MediaStream, mark: int, seconds: float) -> None:
    while len(stream.bot_audio) - mark < seconds * 8000:
        await asyncio.sleep(0.05)


async def test_outbound_hangup_busy_and_voicemail(env: Env) -> None:
    # hang up from the API while the call is live
    call = await dial(env)
    stream = await answer(env, call)
    await stream.wait_for_bot_speech(0.3)
    r = await env.http.post(f"/api/v1/calls/{call['id']}/hangup", headers=env.headers)
    assert r.status_code == 202 and r.json()["delivered"] == "live"
    await asyncio.wait_for(stream.closed.wait(), 10)
    ended = await env.wait_ended(call["id"])
    assert ended["end_reason"] == "ended_by_api"
    assert env.fake.calls[call["carrier_call_id"]].status == "completed"
    r = await env.http.post(f"/api/v1/calls/{call['id']}/hangup", headers=env.headers)
    assert r.status_code == 409

    # busy: the call never connects; the status callback finalizes it
    call = await dial(env)
    created = await env.fake.wait_for(lambda q: call["id"] in (q.get("StatusCallback") or ""))
    r = await env.twilio.signed_post(created.get("StatusCallback"), {
        "CallSid": call["carrier_call_id"], "CallStatus": "busy"})  # fmt: skip
    assert r.status_code == 204
    ended = await env.wait_ended(call["id"])
    assert ended["status"] == "busy"

    # answering machine with a "leave a message" policy
    call = await dial(env, machine_detection=True,
                      voicemail={"action": "message", "text": "Please call us back."})  # fmt: skip
    created = await env.fake.wait_for(lambda q: call["id"] in (q.get("StatusCallback") or ""))
    assert created.get("MachineDetection") == "DetectMessageEnd"
    stream = await answer(env, call)
    await stream.wait_for_bot_speech(0.3)
    r = await env.twilio.signed_post(created.get("AsyncAmdStatusCallback"), {
        "CallSid": call["carrier_call_id"], "AnsweredBy": "machine_end_beep"})  # fmt: skip
    assert r.status_code == 204
    twiml = parse_twiml(env.fake.calls[call["carrier_call_id"]].twiml_updates[-1])
    assert twiml.findtext("Say") == "Please call us back." and twiml.find("Hangup") is not None
    ended = await env.wait_ended(call["id"])
    assert ended["end_reason"] == "voicemail"
    await stream.close()

    # the organization's concurrent-call limit applies to outbound calls too
    assert (await env.http.patch("/api/v1/organization", json={"max_concurrent_calls": 0},
                                 headers=env.headers)).status_code == 200  # fmt: skip
    dialed = len(env.fake.calls)
    r = await env.http.post("/api/v1/calls", headers=env.headers, json={
        "to": "+14155550123", "workflow_id": env.workflow_id})  # fmt: skip
    assert r.status_code == 429 and r.json()["error"]["code"] == "concurrency_limit"
    assert len(env.fake.calls) == dialed  # nothing was dialed
    assert (await env.http.patch("/api/v1/organization", json={"max_concurrent_calls": 10},
                                 headers=env.headers)).status_code == 200  # fmt: skip

    # another org's call is a 404
    other = await env.http.post("/api/v1/auth/signup", json={
        "email": f"o-{uuid.uuid4().hex[:8]}@example.com", "password": "correct horse battery"})  # fmt: skip
    hdrs = {"Authorization": f"Bearer {other.json()['access_token']}"}
    r = await env.http.post(f"/api/v1/calls/{call['id']}/hangup", headers=hdrs)
    assert r.status_code == 404
    r = await env.http.post("/api/v1/calls", headers=hdrs, json={
        "to": "+14155550123", "workflow_id": env.workflow_id})  # fmt: skip
    assert r.status_code == 404
