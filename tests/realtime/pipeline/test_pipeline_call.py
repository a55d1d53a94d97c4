"""A whole call through the real pipeline over a real WebRTC connection (no HTTP).

An aiortc peer speaks espeak-ng audio into pipecat's SmallWebRTC transport; the offline
engines (PocketSphinx, espeak-ng) and the offline scripted agent answer. We check what the
caller hears and what the pipeline reports: turns, latency breakdown, usage, recording.
"""

from __future__ import annotations

import asyncio
import uuid
import wave
from pathlib import Path

import numpy as np
import pytest
from pipecat.processors.frame_processor import FrameProcessor
from pipecat.transports.base_transport import BaseTransport, TransportParams
from pipecat.transports.smallwebrtc.connection import SmallWebRTCConnection
from pipecat.transports.smallwebrtc.transport import SmallWebRTCTransport

from loadgen.callers.webrtc import WebRTCCaller, speech_pcm
from pipeline import vad_batch
from pipeline.audio_ends import AgentAudioEnd, CallerAudioEnd
from pipeline.builder import build_call
from pipeline.call_runner import CallControl, run_call
from pipeline.events import MemorySink
from pipeline.providers import ProviderCredentials, ProviderKey, ProviderSettings, STTChoice
from pipeline.spec import CallSpec
from runtime import tracing as runtime_tracing
from runtime.models import ModelConfig
from runtime.sessions import create_session
from tests.fakes.deepgram_server import FakeDeepgram

WORKFLOW = {
    "nodes": [
        {
            "id": "start",
            "type": "start",
            "greeting": "Hello, this is the booking line.",
            "say": "How can I help you?",
        },
        {
            "id": "booking",
            "type": "agent",
            "say": "Sure, I can book a table for you. For how many people?",
        },
        {"id": "bye", "type": "end", "say": "Goodbye."},
    ],
    "edges": [
        {"from": "start", "to": "booking", "condition": "hello book table help reservation"},
        {"from": "booking", "to": "bye", "condition": "goodbye bye"},
    ],
    # No "are you still there?" prompts in these tests, even on a loaded machine.
    "settings": {"idle_timeout_seconds": 600},
}

ASK = "Hello, I would like to book a table please."
BARGE = "Stop, stop. I want to book a table."

LONG_GREETING = (
    "Hello, this is the booking line. Before we start, let me tell you about our opening hours, "
    "our menu of the week, the special offers for groups, the parking situation near the "
    "restaurant, and the many ways in which you can reach us if you need anything at all."
)


async def start_call(tmp_path: Path, *, workflow: dict = WORKFLOW, **spec_overrides):
    caller = WebRTCCaller()
    offer = await caller.offer()
    connection = SmallWebRTCConnection()
    await connection.initialize(sdp=offer["sdp"], type=offer["type"])
    await caller.accept(connection.get_answer())
    transport = SmallWebRTCTransport(
        connection,
        TransportParams(
            audio_in_enabled=True,
            audio_out_enabled=True,
            audio_in_sample_rate=16000,
            audio_out_sample_rate=16000,
        ),
    )
    session = create_session(workflow, variables={}, model=ModelConfig(provider="offline"))
    spec = CallSpec(
        call_id=str(uuid.uuid4()),
        organization_id="org",
        channel="webrtc",
        audio_in_sample_rate=16000,
        audio_out_sample_rate=16000,
        agent=session,
        record_path=tmp_path / "call.wav",
        **spec_overrides,
    )
    sink = MemorySink()
    control = CallControl()
    task = asyncio.create_task(run_call(spec, transport, sink, control=control))
    return caller, sink, control, task


async def test_spoken_turn_gets_spoken_answer_with_turns_latency_usage_and_recording(tmp_path):
    speech_pcm(ASK)  # synthesize before the call so the event loop stays free during it
    caller, sink, control, task = await start_call(tmp_path)
    try:
        # The greeting is heard, then the caller asks for a table.
        await caller.wait_for_speech(frames=25, timeout=60)
        await caller.wait_for_silence(frames=40)
        mark = len(caller.levels)
        await caller.say(ASK)
        await caller.wait_for_speech(start=mark, frames=25, timeout=60)
        await caller.wait_for_silence(frames=40)
        await asyncio.sleep(0.3)
    finally:
        await control.hang_up("test_done")
        result = await asyncio.wait_for(task, 30)
        await caller.close()

    speakers = [t.speaker for t in sink.turns]
    assert speakers[:3] == ["agent", "user", "agent"], sink.turns
    greeting, user, answer = sink.turns[:3]
    assert greeting.text == "Hello, this is the booking line."
    assert user.text.strip()
    assert answer.text and not answer.interrupted
    assert answer.ended_at >= answer.started_at

    lat = answer.latency
    assert lat is not None
    assert lat.agent_first_token_ms is not None
    assert lat.tts_first_audio_ms is not None and lat.first_audio_out_ms is not None
    assert lat.agent_first_token_ms <= lat.tts_first_audio_ms <= lat.first_audio_out_ms

    kinds = {u.kind: u for u in result.usage}
    assert kinds["stt_seconds"].quantity > 0.5
    assert kinds["tts_characters"].quantity >= len(greeting.text)
    assert kinds["llm_output_tokens"].provider == "offline-scripted"
    assert result.end_reason == "test_done"

    with wave.open(str(tmp_path / "call.wav")) as wav:
        assert wav.getnchannels() == 2 and wav.getframerate() == 16000
        assert wav.getnframes() / wav.getframerate() > 2.0
        stereo = np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16).reshape(-1, 2)
    # Left is the caller (the question), right the agent (greeting and answer): both spoke.
    caller_loud, agent_loud = (np.abs(stereo) > 2000).sum(axis=0)
    assert caller_loud > 1600 and agent_loud > 1600  # > 0.1 s of clear speech on each side


async def test_barge_in_stops_agent_audio_and_marks_turn_interrupted(tmp_path):
    workflow = {
        **WORKFLOW,
        "nodes": [dict(WORKFLOW["nodes"][0], greeting=LONG_GREETING), *WORKFLOW["nodes"][1:]],
    }
    caller, sink, control, task = await start_call(
        tmp_path, workflow=workflow, turn_detection="speech-timeout"
    )
    speech_pcm(BARGE)
    try:
        await caller.wait_for_speech(frames=50, timeout=60)  # a second of the greeting
        barge_at = len(caller.levels)
        await caller.say(BARGE)
        after_speech = len(caller.levels)
        await caller.wait_for_silence(frames=25, timeout=20)
    finally:
        await control.hang_up("test_done")
        await asyncio.wait_for(task, 30)
        await caller.close()

    greeting = sink.turns[0]
    assert greeting.speaker == "agent" and greeting.interrupted
    # Only part of the greeting was heard, and the record keeps only that part.
    assert len(greeting.text) < len(LONG_GREETING)
    # The greeting alone is ~15 s of speech; the agent went quiet shortly after the caller
    # started talking: count its loud frames between barge-in and the end of our utterance.
    loud_while_caller_spoke = caller.speech_frames(barge_at) - caller.speech_frames(after_speech)
    assert loud_while_caller_spoke < 75  # < 1.5 s of 20 ms frames


async def test_silent_caller_gets_idle_prompts_then_the_call_ends(tmp_path):
    caller, sink, control, task = await start_call(
        tmp_path, user_idle_timeout_secs=1.0, idle_prompts=["Are you still there?"]
    )
    try:
        result = await asyncio.wait_for(task, 40)  # the agent ends it, nobody hangs up
    finally:
        await caller.close()
    assert result.end_reason == "caller_idle"
    agent_lines = [t.text for t in sink.turns if t.speaker == "agent"]
    assert agent_lines == ["Hello, this is the booking line.", "Are you still there?"]
    assert not [t for t in sink.turns if t.speaker == "user"]
    assert caller.speech_frames() > 50  # both lines were heard


async def test_caller_cannot_barge_in_at_a_non_interruptible_node(tmp_path):
    greeting = "Please listen carefully, as our menu options have changed recently."
    workflow = {
        **WORKFLOW,
        "nodes": [
            dict(WORKFLOW["nodes"][0], greeting=greeting, interruptible=False),
            *WORKFLOW["nodes"][1:],
        ],
    }
    speech_pcm(BARGE)
    caller, sink, control, task = await start_call(
        tmp_path, workflow=workflow, turn_detection="speech-timeout"
    )
    try:
        await caller.wait_for_speech(frames=25, timeout=60)
        await caller.say(BARGE)  # talks over the agent
        await caller.wait_for_silence(frames=40, timeout=60)
    finally:
        await control.hang_up("test_done")
        await asyncio.wait_for(task, 30)
        await caller.close()
    first = sink.turns[0]
    assert first.speaker == "agent" and not first.interrupted
    assert first.text == greeting  # heard to the end


@pytest.mark.parametrize("talks_over", [False, True], ids=["quiet", "caller-talks-over"])
async def test_agent_ends_the_call_after_its_goodbye_is_heard(tmp_path, talks_over):
    """The agent hangs up once its goodbye was played. The caller still talking as it starts
    ("that is all, thank you very much" split at the comma) does not cut it: the call ends
    after it either way, and cutting it left callers with a call that ended in silence."""
    goodbye = "Thank you for calling. Have a lovely day. Goodbye."
    workflow = {
        "nodes": [
            {"id": "start", "type": "start", "greeting": "Hello.", "say": "How can I help?"},
            {"id": "bye", "type": "end", "say": goodbye},
        ],
        "edges": [{"from": "start", "to": "bye", "condition": "the caller says goodbye"}],
        "settings": {"idle_timeout_seconds": 600},
    }
    speech_pcm(ASK)
    speech_pcm(BARGE)
    # Deepgram (the fake) recognizes the caller deterministically: "goodbye".
    async with FakeDeepgram(transcripts=["okay goodbye then", "wait I have one more question"]) as dg:
        caller, sink, control, task = await start_call(
            tmp_path,
            workflow=workflow,
            providers=ProviderSettings(stt=STTChoice(provider="deepgram")),
            credentials=ProviderCredentials(deepgram=ProviderKey(api_key="k", base_url=dg.ws_url)),
        )
        try:
            await caller.wait_for_speech(frames=10, timeout=60)
            await caller.wait_for_silence(frames=40, timeout=60)
            mark = len(caller.levels)
            await caller.say(ASK)
            if talks_over:
                await caller.wait_for_speech(start=mark + 1, frames=5, timeout=60)  # it starts
                await caller.say(BARGE)
            result = await asyncio.wait_for(task, 60)  # nobody hangs up: the agent does
        finally:
            await caller.close()
    assert result.end_reason == "agent_ended", sink.turns
    assert [t.text for t in sink.turns if t.speaker == "user"] == ["okay goodbye then"]
    last = [t for t in sink.turns if t.speaker == "agent"][-1]
    assert last.text == goodbye and not last.interrupted, sink.turns
    assert caller.speech_frames(mark + 1) > 50  # the goodbye was played before hanging up


class _StubTransport(BaseTransport):
    """Only what ``build_call`` asks of a transport: its two ends."""

    def __init__(self) -> None:
        super().__init__()
        self._in, self._out = FrameProcessor(name="in"), FrameProcessor(name="out")

    def input(self) -> FrameProcessor:
        return self._in

    def output(self) -> FrameProcessor:
        return self._out


def test_caller_audio_ends_after_its_last_user(tmp_path):
    """Provider turns: no VAD, caller audio ends right after the STT. VAD turns: after the
    user aggregator that runs the VAD. Agent audio always ends after the output transport."""
    session = create_session(WORKFLOW, variables={}, model=ModelConfig(provider="offline"))
    for mode in ("provider", "smart-turn"):
        spec = CallSpec(
            call_id=str(uuid.uuid4()), organization_id="org", channel="twilio",
            audio_in_sample_rate=8000, audio_out_sample_rate=8000, agent=session,
            turn_detection=mode,  # type: ignore[arg-type]
            stt_service=FrameProcessor(name="stt"), tts_service=FrameProcessor(name="tts"),
        )  # fmt: skip
        transport = _StubTransport()
        built = build_call(spec, transport, MemorySink())
        names = [p.name for p in built.pipeline.processors]
        stt = names.index("stt")
        user = [type(p).__name__ for p in built.pipeline.processors].index("LLMUserAggregator")
        end = [isinstance(p, CallerAudioEnd) for p in built.pipeline.processors].index(True)
        vad = built.pipeline.processors[user]._params.vad_analyzer
        if mode == "provider":
            assert end == stt + 1 and vad is None
        else:
            assert end == user + 1 and vad is not None
        out = built.pipeline.processors.index(transport.output())
        assert isinstance(built.pipeline.processors[out + 1], AgentAudioEnd)


async def test_carrier_and_browser_calls_batch_their_vad_windows():
    """Silero windows of every channel are scored by the loop's batcher for their rate
    (BENCHMARKS.md step 11: browser calls were once left out, until their lost turns were
    traced to the batcher's scheduling, not to batching)."""
    session = create_session(WORKFLOW, variables={}, model=ModelConfig(provider="offline"))
    for channel, rate in (("twilio", 8000), ("webrtc", 16000)):
        spec = CallSpec(
            call_id=str(uuid.uuid4()), organization_id="org", channel=channel,
            audio_in_sample_rate=rate, audio_out_sample_rate=rate, agent=session,
            turn_detection="smart-turn",
            stt_service=FrameProcessor(name="stt"), tts_service=FrameProcessor(name="tts"),
        )  # fmt: skip
        built = build_call(spec, _StubTransport(), MemorySink())
        user = [type(p).__name__ for p in built.pipeline.processors].index("LLMUserAggregator")
        vad = built.pipeline.processors[user]._params.vad_analyzer
        vad.set_sample_rate(rate)
        await vad.analyze_audio(bytes(vad._vad_frames_num_bytes))  # one window
        assert vad._model in vad_batch.batcher(vad._model.session, rate).streams, channel


def test_performance_metrics_only_with_tracing(monkeypatch):
    """Usage metrics always (billing); TTFB/TTFA/processing metrics only when tracing wants
    them (BENCHMARKS.md step 14)."""
    session = create_session(WORKFLOW, variables={}, model=ModelConfig(provider="offline"))

    def params():
        spec = CallSpec(
            call_id=str(uuid.uuid4()), organization_id="org", channel="twilio",
            audio_in_sample_rate=8000, audio_out_sample_rate=8000, agent=session,
            stt_service=FrameProcessor(name="stt"), tts_service=FrameProcessor(name="tts"),
        )  # fmt: skip
        return build_call(spec, _StubTransport(), MemorySink()).worker._params

    off = params()
    assert (off.enable_metrics, off.enable_usage_metrics) == (False, True)
    monkeypatch.setattr(runtime_tracing, "_enabled", True)
    on = params()
    assert (on.enable_metrics, on.enable_usage_metrics) == (True, True)
