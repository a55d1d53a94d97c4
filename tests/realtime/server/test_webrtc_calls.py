"""Browser calls end to end over real sockets: HTTP signalling, WebRTC media, database.

An aiortc peer posts its offer to ``/api/v1/webrtc/offer`` for a published workflow, hears
the greeting, speaks an espeak-ng utterance and hears the answer. Afterwards the call, its
turns with the latency breakdown, its usage and its recording are visible through the API.
"""

from __future__ import annotations

import asyncio
import io
import wave

import httpx

from loadgen.callers.webrtc import WebRTCCaller, speech_pcm
from tests.realtime.pipeline.test_pipeline_call import ASK, BARGE, LONG_GREETING, WORKFLOW


async def publish_workflow(client: httpx.AsyncClient, headers: dict, definition: dict) -> str:
    created = await client.post("/api/v1/workflows", headers=headers,
                                json={"name": "Booking line", "definition": definition})  # fmt: skip
    assert created.status_code == 201, created.text
    workflow_id = created.json()["id"]
    published = await client.post(f"/api/v1/workflows/{workflow_id}/publish", headers=headers,
                                  json={"note": "v1"})  # fmt: skip
    assert published.status_code == 201, published.text
    return workflow_id


async def connect(client: httpx.AsyncClient, headers: dict, workflow_id: str) -> tuple[WebRTCCaller, str]:
    caller = WebRTCCaller()
    offer = await caller.offer()
    response = await client.post("/api/v1/webrtc/offer", headers=headers,
                                 json={**offer, "workflow_id": workflow_id})  # fmt: skip
    assert response.status_code == 200, response.text
    answer = response.json()
    await caller.accept(answer)
    return caller, answer["call_id"]


async def wait_for_end(client: httpx.AsyncClient, headers: dict, call_id: str) -> dict:
    async with asyncio.timeout(60):
        while True:
            call = (await client.get(f"/api/v1/calls/{call_id}", headers=headers)).json()
            if call["ended_at"] is not None:
                return call
            await asyncio.sleep(0.1)


async def test_browser_call_end_to_end(client, make_user):
    speech_pcm(ASK)
    user = await make_user()
    workflow_id = await publish_workflow(client, user.headers, WORKFLOW)
    caller, call_id = await connect(client, user.headers, workflow_id)
    try:
        await caller.wait_for_speech(frames=25, timeout=60)  # the greeting
        await caller.wait_for_silence(frames=40)
        mark = len(caller.levels)
        await caller.say(ASK)
        await caller.wait_for_speech(start=mark, frames=25, timeout=60)  # the answer
        await caller.wait_for_silence(frames=40)
        live = (await client.get(f"/api/v1/calls/{call_id}", headers=user.headers)).json()
        assert live["status"] == "in-progress"
        assert live["engine"] == "offline-scripted"
        # Turns are in the database while the call is still up (written as they complete).
        assert [t["speaker"] for t in live["turns"]][:2] == ["agent", "user"]
    finally:
        await caller.close()  # the caller hangs up

    call = await wait_for_end(client, user.headers, call_id)
    assert call["status"] == "completed"
    assert call["direction"] == "browser" and call["channel"] == "webrtc"
    assert call["workflow_id"] == workflow_id and call["workflow_version"] == 1
    assert call["duration_seconds"] > 2

    turns = call["turns"]
    assert [t["speaker"] for t in turns[:3]] == ["agent", "user", "agent"], turns
    assert turns[0]["text"] == "Hello, this is the booking line."
    answer = turns[2]
    assert answer["text"] and not answer["interrupted"]
    latency = answer["latency"]
    assert latency is not None
    assert latency["agent_first_token_ms"] <= latency["tts_first_audio_ms"]
    assert latency["tts_first_audio_ms"] <= latency["first_audio_out_ms"]

    usage = {(u["kind"], u["provider"]): u["quantity"] for u in call["usage"]}
    assert usage[("call_seconds", "webrtc")] > 2
    assert usage[("stt_seconds", "pocketsphinx")] > 1
    assert usage[("tts_characters", "espeak")] >= len(turns[0]["text"])
    assert ("llm_output_tokens", "offline-scripted") in usage

    # The live transcript reached the browser over the data channel (RTVI messages, which
    # is what /talk renders): what the agent said and the caller's final transcript.
    rtvi = [m for m in caller.messages if m.get("label") == "rtvi-ai"]
    spoken = " ".join(m["data"]["text"] for m in rtvi if m["type"] == "bot-tts-text")
    assert "booking line" in spoken, rtvi
    finals = [m["data"]["text"] for m in rtvi
              if m["type"] == "user-transcription" and m["data"].get("final")]  # fmt: skip
    assert finals and finals[-1] in turns[1]["text"]

    recording = await client.get(f"/api/v1/calls/{call_id}/recording", headers=user.headers)
    assert recording.status_code == 200
    assert recording.headers["content-type"] == "audio/wav"
    with wave.open(io.BytesIO(recording.content)) as wav:
        assert wav.getnchannels() == 2
        assert wav.getnframes() / wav.getframerate() > 2

    listed = (await client.get("/api/v1/calls", headers=user.headers)).json()
    assert [c["id"] for c in listed["items"]] == [call_id]

    # Another organization sees none of it.
    other = await make_user()
    for path in (f"/api/v1/calls/{call_id}", f"/api/v1/calls/{call_id}/recording"):
        assert (await client.get(path, headers=other.headers)).status_code == 404
    assert (await client.get("/api/v1/calls", headers=other.headers)).json()["items"] == []


async def test_barge_in_over_webrtc_marks_turn_interrupted(client, make_user):
    speech_pcm(BARGE)
    user = await make_user()
    definition = {**WORKFLOW, "nodes": [dict(WORKFLOW["nodes"][0], greeting=LONG_GREETING),
                                        *WORKFLOW["nodes"][1:]]}  # fmt: skip
    workflow_id = await publish_workflow(client, user.headers, definition)
    caller, call_id = await connect(client, user.headers, workflow_id)
    try:
        await caller.wait_for_speech(frames=50, timeout=60)
        barge_at = len(caller.levels)
        await caller.say(BARGE)
        after = len(caller.levels)
        await caller.wait_for_silence(frames=25, timeout=20)
    finally:
        await caller.close()
    call = await wait_for_end(client, user.headers, call_id)
    greeting = call["turns"][0]
    assert greeting["speaker"] == "agent" and greeting["interrupted"] is True
    assert len(greeting["text"]) < len(LONG_GREETING)
    assert caller.speech_frames(barge_at) - caller.speech_frames(after) < 75


async def test_offer_needs_auth_and_own_workflow(client, make_user):
    user = await make_user()
    workflow_id = await publish_workflow(client, user.headers, WORKFLOW)
    caller = WebRTCCaller()
    try:
        offer = await caller.offer()
        body = {**offer, "workflow_id": workflow_id}
        assert (await client.post("/api/v1/webrtc/offer", json=body)).status_code == 401
        other = await make_user()
        response = await client.post("/api/v1/webrtc/offer", json=body, headers=other.headers)
        assert response.status_code == 404
        patch = await client.patch("/api/v1/webrtc/offer", headers=other.headers,
                                   json={"pc_id": "nope", "candidates": []})  # fmt: skip
        assert patch.status_code == 404
    finally:
        await caller.close()


async def test_hangup_from_the_api_ends_a_browser_call(client, make_user):
    user = await make_user()
    workflow_id = await publish_workflow(client, user.headers, WORKFLOW)
    caller, call_id = await connect(client, user.headers, workflow_id)
    try:
        await caller.wait_for_speech(frames=10, timeout=60)
        other = await make_user()
        foreign = await client.post(f"/api/v1/calls/{call_id}/hangup", headers=other.headers)
        assert foreign.status_code == 404
        response = await client.post(f"/api/v1/calls/{call_id}/hangup", headers=user.headers)
        assert response.status_code == 202, response.text
        assert response.json()["delivered"] == "live"
        call = await wait_for_end(client, user.headers, call_id)
    finally:
        await caller.close()
    assert call["status"] == "completed"
    assert call["end_reason"] == "ended_by_api"


async def test_offer_with_an_api_key(client, make_user):
    user = await make_user()
    workflow_id = await publish_workflow(client, user.headers, WORKFLOW)
    created = await client.post("/api/v1/api-keys", json={"name": "kiosk"}, headers=user.headers)
    assert created.status_code == 201, created.text
    api_key = {"Authorization": f"Bearer {created.json()['key']}"}
    caller, call_id = await connect(client, api_key, workflow_id)
    try:
        await caller.wait_for_speech(frames=10, timeout=60)
    finally:
        await caller.close()
    call = await wait_for_end(client, api_key, call_id)
    assert call["direction"] == "browser" and call["turns"][0]["speaker"] == "agent"
