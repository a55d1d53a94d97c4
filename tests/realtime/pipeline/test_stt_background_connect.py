"""Speech-to-text that connects behind the call's start (pipeline/providers/
background_connect.py): the real pipecat Deepgram services against the fake Deepgram, its
websocket upgrade held until the test lets it through."""

from __future__ import annotations

import asyncio

import pytest
from pipecat.frames.frames import TranscriptionFrame

from loadgen.audio import silence_pcm
from pipeline.providers import STTChoice, build_stt
from tests.fakes.deepgram_server import FakeDeepgram
from tests.realtime.pipeline.test_providers_speech import creds_for, running, utterance


@pytest.mark.parametrize("provider", ["deepgram-flux", "deepgram"])
async def test_stt_connects_behind_the_start_and_keeps_what_the_caller_said_meanwhile(
    provider: str,
) -> None:
    """The pipeline starts (the greeting can play) while the provider's handshake is held,
    and speech sent before the handshake completes is transcribed after it."""
    async with FakeDeepgram(transcripts=["hello there"]) as dg:
        dg.handshake_gate = asyncio.Event()
        stt = build_stt(STTChoice(provider=provider), creds_for("deepgram", dg.ws_url),
                        sample_rate=8000)  # fmt: skip
        async with running(stt, in_rate=8000) as h:  # started: the handshake is still held
            assert dg.sockets == []
            await h.send_audio(utterance("hello there", 8000))  # said during the handshake
            assert dg.sockets == []
            dg.handshake_gate.set()
            await h.send_audio(silence_pcm(0.6, 8000))
            await h.wait_for(lambda: h.collector.of(TranscriptionFrame))
        assert [f.text for f in h.collector.of(TranscriptionFrame)] == ["hello there"]
        assert len(dg.sockets) == 1 and dg.utterances == 1
        assert dg.connections[0].audio_messages > len(utterance("hello there", 8000)) // 320


@pytest.mark.parametrize("provider", ["deepgram-flux", "deepgram"])
async def test_a_call_ended_during_the_handshake_leaves_no_socket_open(provider: str) -> None:
    async with FakeDeepgram() as dg:
        dg.handshake_gate = asyncio.Event()
        stt = build_stt(STTChoice(provider=provider), creds_for("deepgram", dg.ws_url),
                        sample_rate=8000)  # fmt: skip
        async with running(stt, in_rate=8000):
            await asyncio.sleep(0.1)
            assert len(dg.connections) == 1  # the upgrade request is waiting at the fake
        dg.handshake_gate.set()  # the call has ended: a connect still running would finish now
        await asyncio.sleep(0.5)
        assert all(ws.closed for ws in dg.sockets)
