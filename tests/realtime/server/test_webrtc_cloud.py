"""The same browser call with cloud providers: Deepgram STT, an OpenAI model and Cartesia
TTS, each the real SDK/pipecat service pointed at a fake server on 127.0.0.1 by base URL
(the organization's stored credentials carry the URLs)."""

from __future__ import annotations

import asyncio

from loadgen.callers.webrtc import speech_pcm
from tests.fakes.deepgram_server import FakeDeepgram
from tests.fakes.openai_server import FakeOpenAI, say
from tests.fakes.tts_servers import FakeCartesia
from tests.realtime.pipeline.test_pipeline_call import ASK, BARGE, WORKFLOW
from tests.realtime.server.test_webrtc_calls import connect, publish_workflow, wait_for_end

REPLY = "Sure, I can book a table for you tonight."


async def test_browser_call_on_cloud_providers(client, make_user):
    speech_pcm(ASK)
    user = await make_user()
    async with (
        FakeDeepgram(transcripts=["I would like to book a table please"]) as dg,
        FakeOpenAI() as llm,
        FakeCartesia() as tts,
    ):
        llm.script(say(REPLY, input_tokens=42, output_tokens=9))
        for provider, url in (("deepgram", dg.ws_url), ("openai", llm.base_url),
                              ("cartesia", tts.ws_url)):  # fmt: skip
            put = await client.put(f"/api/v1/provider-credentials/{provider}", headers=user.headers,
                                   json={"api_key": f"{provider}-key-0001", "base_url": url})  # fmt: skip
            assert put.status_code == 200, put.text
        settings = {"stt": {"provider": "deepgram"}, "tts": {"provider": "cartesia"}}
        put = await client.put("/api/v1/provider-settings", headers=user.headers, json=settings)
        assert put.status_code == 200, put.text
        workflow_id = await publish_workflow(client, user.headers, WORKFLOW)

        caller, call_id = await connect(client, user.headers, workflow_id)
        try:
            await caller.wait_for_speech(frames=25, timeout=60)  # greeting, spoken by Cartesia
            await caller.wait_for_silence(frames=40)
            mark = len(caller.levels)
            await caller.say(ASK)
            await caller.wait_for_speech(start=mark, frames=25, timeout=60)
            await caller.wait_for_silence(frames=40)
        finally:
            await caller.close()
        spoken = list(tts.texts)
        llm_requests = list(llm.requests)

    call = await wait_for_end(client, user.headers, call_id)
    assert call["status"] == "completed"
    assert call["engine"] == "openai"
    turns = [(t["speaker"], t["text"]) for t in call["turns"]]
    assert turns[:3] == [
        ("agent", "Hello, this is the booking line."),
        ("user", "I would like to book a table please"),
        ("agent", REPLY),
    ], turns
    assert any("book a table" in str(r) for r in llm_requests)  # the model saw the caller
    assert any(REPLY.split(",")[0] in text for text in spoken)
    latency = call["turns"][2]["latency"]
    assert latency["stt_final_ms"] is not None
    assert latency["agent_first_token_ms"] <= latency["first_audio_out_ms"]
    usage = {(u["kind"], u["provider"]): u["quantity"] for u in call["usage"]}
    assert usage[("llm_input_tokens", "openai")] == 42
    assert usage[("llm_output_tokens", "openai")] == 9
    assert usage[("stt_seconds", "deepgram")] > 1
    assert usage[("tts_characters", "cartesia")] >= len(REPLY)


async def test_deepgram_flux_decides_the_end_of_turn(client, make_user):
    speech_pcm(ASK)
    user = await make_user()
    async with FakeDeepgram(transcripts=["I would like to book a table please"]) as dg:
        put = await client.put("/api/v1/provider-credentials/deepgram", headers=user.headers,
                               json={"api_key": "deepgram-key-0001", "base_url": dg.ws_url})  # fmt: skip
        assert put.status_code == 200, put.text
        settings = {"stt": {"provider": "deepgram-flux"}}
        put = await client.put("/api/v1/provider-settings", headers=user.headers, json=settings)
        assert put.status_code == 200, put.text
        workflow_id = await publish_workflow(client, user.headers, WORKFLOW)
        caller, call_id = await connect(client, user.headers, workflow_id)
        try:
            await caller.wait_for_speech(frames=25, timeout=60)
            await caller.wait_for_silence(frames=40)
            mark = len(caller.levels)
            await caller.say(ASK)
            await caller.wait_for_speech(start=mark, frames=25, timeout=60)
            await caller.wait_for_silence(frames=40)
        finally:
            await caller.close()
        flux = [c for c in dg.connections if c.path == "/v2/listen"]

    assert flux  # the call listened through Flux, whose EndOfTurn ended the caller's turn
    call = await wait_for_end(client, user.headers, call_id)
    turns = [(t["speaker"], t["text"]) for t in call["turns"]]
    assert turns[1] == ("user", "I would like to book a table please"), turns
    assert turns[2][0] == "agent" and turns[2][1]


async def test_barge_in_cancels_the_in_flight_model_stream(client, make_user):
    speech_pcm(ASK)
    speech_pcm(BARGE)
    user = await make_user()
    slow = "Let me see. " + "We have many tables and many times to choose from. " * 6
    async with (
        FakeDeepgram(transcripts=["I would like to book a table please", "stop stop"]) as dg,
        FakeOpenAI() as llm,
    ):
        # The reply streams its first words, then trickles the rest over 20 s.
        llm.script(say(slow, hold_seconds=20), say("Okay, stopping."))
        for provider, url in (("deepgram", dg.ws_url), ("openai", llm.base_url)):
            put = await client.put(f"/api/v1/provider-credentials/{provider}", headers=user.headers,
                                   json={"api_key": f"{provider}-key-0001", "base_url": url})  # fmt: skip
            assert put.status_code == 200, put.text
        put = await client.put("/api/v1/provider-settings", headers=user.headers,
                               json={"stt": {"provider": "deepgram"}})  # fmt: skip
        assert put.status_code == 200, put.text
        workflow_id = await publish_workflow(client, user.headers, WORKFLOW)
        caller, call_id = await connect(client, user.headers, workflow_id)
        try:
            await caller.wait_for_speech(frames=25, timeout=60)
            await caller.wait_for_silence(frames=40)
            mark = len(caller.levels)
            await caller.say(ASK)
            await caller.wait_for_speech(start=mark, frames=10, timeout=60)  # "Let me see."
            await caller.say(BARGE)  # while the model is still streaming
            async with asyncio.timeout(30):
                while llm.disconnects < 1:
                    await asyncio.sleep(0.05)
        finally:
            await caller.close()

    call = await wait_for_end(client, user.headers, call_id)
    answer = call["turns"][2]
    assert answer["speaker"] == "agent" and answer["interrupted"] is True
    assert len(answer["text"]) < len(slow.strip())  # only what was heard is kept
