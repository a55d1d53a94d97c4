"""Provider failover in a real browser call: Deepgram (the fake, on 127.0.0.1) drops the
live-transcription socket mid-call, the call carries on with the offline fallback STT, the
caller still gets answers, and the switch is recorded on the call."""

from __future__ import annotations

import asyncio

from loadgen.callers.webrtc import speech_pcm
from tests.fakes.deepgram_server import FakeDeepgram
from tests.realtime.pipeline.test_pipeline_call import ASK, WORKFLOW
from tests.realtime.server.test_webrtc_calls import connect, publish_workflow, wait_for_end


async def test_stt_failover_mid_call_is_recorded_and_the_call_continues(client, make_user):
    speech_pcm(ASK)
    user = await make_user()
    # ~2 s of 20 ms audio messages, then the fake closes the socket with an error (1011).
    async with FakeDeepgram(close_after_audio_messages=100, fail_path="/v1/listen") as dg:
        put = await client.put("/api/v1/provider-credentials/deepgram", headers=user.headers,
                               json={"api_key": "dg-test-key-0001", "base_url": dg.ws_url})  # fmt: skip
        assert put.status_code == 200, put.text
        settings = {"stt": {"provider": "deepgram"}, "fallback_stt": {"provider": "offline"}}
        put = await client.put("/api/v1/provider-settings", headers=user.headers, json=settings)
        assert put.status_code == 200, put.text
        workflow_id = await publish_workflow(client, user.headers, WORKFLOW)

        caller, call_id = await connect(client, user.headers, workflow_id)
        try:
            await caller.wait_for_speech(frames=25, timeout=60)  # greeting
            await caller.wait_for_silence(frames=40)
            async with asyncio.timeout(20):
                while not any(c.path == "/v1/listen" for c in dg.connections) or (
                    sum(c.audio_messages for c in dg.connections) < 100
                ):
                    await asyncio.sleep(0.1)
            mark = len(caller.levels)
            await caller.say(ASK)
            await caller.wait_for_speech(start=mark, frames=25, timeout=60)  # answered anyway
            await caller.wait_for_silence(frames=40)
        finally:
            await caller.close()

    call = await wait_for_end(client, user.headers, call_id)
    assert call["status"] == "completed"
    failovers = [e for e in call["events"] if e["kind"] == "failover"]
    assert len(failovers) == 1, call["events"]
    assert failovers[0]["data"]["kind"] == "stt"
    assert failovers[0]["data"]["from"] == "deepgram"
    assert failovers[0]["data"]["to"] == "offline"
    user_turns = [t for t in call["turns"] if t["speaker"] == "user"]
    assert user_turns and user_turns[-1]["text"]  # recognised by the fallback
    assert [t["speaker"] for t in call["turns"]][-1] == "agent"
    providers = {u["provider"] for u in call["usage"] if u["kind"] == "stt_seconds"}
    assert "pocketsphinx" in providers
