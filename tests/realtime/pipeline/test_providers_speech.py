"""Cloud speech providers: the real pipecat services against fake servers on 127.0.0.1.

Each test runs a small real pipecat pipeline (the service under test, then a collector)
and feeds it real espeak-ng speech or text.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest
from pipecat.frames.frames import (
    EndFrame,
    Frame,
    InputAudioRawFrame,
    InterimTranscriptionFrame,
    TranscriptionFrame,
    TTSAudioRawFrame,
    TTSSpeakFrame,
    TTSStoppedFrame,
)
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.runner import WorkerRunner
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from loadgen.audio import rms, silence_pcm
from loadgen.speech import agent_speech_pcm as synthesize
from loadgen.speech import speech_pcm
from pipeline.providers import (
    FailoverSwitcher,
    ProviderFailover,
    ProviderSettings,
    StoredCredential,
    STTChoice,
    TTSChoice,
    build_stt,
    build_stt_stage,
    build_tts,
    build_tts_stage,
    resolve_credentials,
)
from runtime.egress import EgressPolicy
from tests.fakes.deepgram_server import FakeDeepgram
from tests.fakes.tts_servers import (
    FakeCartesia,
    FakeDeepgramAura,
    FakeElevenLabs,
    FakeOpenAISpeech,
)

KEY = "test-key-123"


class Collector(FrameProcessor):
    """Records every frame that reaches the end of the pipeline."""

    def __init__(self) -> None:
        super().__init__()
        self.frames: list[Frame] = []

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if direction is FrameDirection.DOWNSTREAM and not isinstance(frame, InputAudioRawFrame):
            self.frames.append(frame)
        await self.push_frame(frame, direction)

    def of(self, kind: type[Frame]) -> list:
        return [f for f in self.frames if isinstance(f, kind)]


class Harness:
    def __init__(self, worker: PipelineWorker, collector: Collector, in_rate: int) -> None:
        self.worker = worker
        self.collector = collector
        self.in_rate = in_rate

    async def send_audio(self, pcm: bytes, *, chunk_ms: int = 20, pace: float = 0.002) -> None:
        """Queue PCM as 20 ms input frames, a little faster than real time."""
        size = self.in_rate * 2 * chunk_ms // 1000
        for i in range(0, len(pcm), size):
            await self.worker.queue_frame(InputAudioRawFrame(pcm[i : i + size], self.in_rate, 1))
            await asyncio.sleep(pace)

    async def wait_for(self, condition: Callable[[], bool], timeout: float = 10.0) -> None:
        async def poll() -> None:
            while not condition():
                await asyncio.sleep(0.02)

        await asyncio.wait_for(poll(), timeout)


@asynccontextmanager
async def running(
    processor: FrameProcessor, *, in_rate: int = 16000, out_rate: int = 16000
) -> AsyncIterator[Harness]:
    collector = Collector()
    worker = PipelineWorker(
        Pipeline([processor, collector]),
        params=PipelineParams(audio_in_sample_rate=in_rate, audio_out_sample_rate=out_rate),
        cancel_on_idle_timeout=False,
    )
    started = asyncio.Event()

    @worker.event_handler("on_pipeline_started")
    async def _started(_worker: PipelineWorker, _frame: Frame) -> None:
        started.set()

    runner = WorkerRunner(handle_sigint=False)
    await runner.add_workers(worker)
    task = asyncio.create_task(runner.run())
    try:
        await asyncio.wait_for(started.wait(), 15)
        yield Harness(worker, collector, in_rate)
    finally:
        await worker.queue_frame(EndFrame())
        await asyncio.wait_for(task, 20)


def utterance(text: str, rate: int) -> bytes:
    """Speech padded with enough silence for the fake's endpointing to end the turn."""
    return silence_pcm(0.2, rate) + speech_pcm(text, rate) + silence_pcm(0.8, rate)


# The fakes are on loopback: the egress policy (which these services connect through,
# as the organization chose the base URLs) must allow private addresses.
LOCAL = EgressPolicy(allow_private=True)


def creds_for(provider: str, url: str) -> object:
    return resolve_credentials({provider: StoredCredential(api_key=KEY, base_url=url)},
                               egress=LOCAL)


# --- speech-to-text ----------------------------------------------------------------------


async def test_deepgram_nova_recognizes_speech_with_interim_results() -> None:
    # No script: the fake runs real PocketSphinx recognition on the audio it receives.
    async with FakeDeepgram(api_key=KEY) as dg:
        stt = build_stt(STTChoice(provider="deepgram"), creds_for("deepgram", dg.ws_url))
        async with running(stt) as h:
            await h.send_audio(utterance("yes please", 16000))
            await h.wait_for(lambda: h.collector.of(TranscriptionFrame))
        finals = h.collector.of(TranscriptionFrame)
        assert [f.text for f in finals] == ["yes please"]
        interims = h.collector.of(InterimTranscriptionFrame)
        assert interims and h.collector.frames.index(interims[0]) < h.collector.frames.index(
            finals[0]
        )
        conn = dg.connections[0]
        assert conn.authorization == f"Token {KEY}"
        assert conn.query["model"] == "nova-3-general"
        assert conn.query["sample_rate"] == "16000"
        assert conn.query["encoding"] == "linear16"


async def test_deepgram_nova_ignores_silence() -> None:
    async with FakeDeepgram(transcripts=["book a table"], api_key=KEY) as dg:
        stt = build_stt(
            STTChoice(provider="deepgram", model="nova-3-phonecall"),
            creds_for("deepgram", dg.ws_url),
            sample_rate=8000,
        )
        async with running(stt, in_rate=8000) as h:
            await h.send_audio(silence_pcm(1.5, 8000))
            await h.send_audio(utterance("book a table for two", 8000))
            await h.wait_for(lambda: h.collector.of(TranscriptionFrame))
        assert [f.text for f in h.collector.of(TranscriptionFrame)] == ["book a table"]
        assert dg.utterances == 1  # the leading silence was not an utterance
        assert dg.connections[0].query["model"] == "nova-3-phonecall"
        assert dg.connections[0].query["sample_rate"] == "8000"


async def test_deepgram_flux_ends_turns_with_its_own_events() -> None:
    async with FakeDeepgram(transcripts=["i need help", "thank you"]) as dg:
        stt = build_stt(
            STTChoice(provider="deepgram-flux"), creds_for("deepgram", dg.ws_url), sample_rate=8000
        )
        ends: list[str] = []

        @stt.event_handler("on_end_of_turn")
        async def _end(_service: object, transcript: str) -> None:
            ends.append(transcript)

        async with running(stt, in_rate=8000) as h:
            await h.send_audio(utterance("i need some help", 8000))
            await h.send_audio(utterance("thank you", 8000))
            await h.wait_for(lambda: len(h.collector.of(TranscriptionFrame)) == 2)
        assert [f.text for f in h.collector.of(TranscriptionFrame)] == ["i need help", "thank you"]
        assert all(f.finalized for f in h.collector.of(TranscriptionFrame))
        assert ends == ["i need help", "thank you"]
        assert dg.connections[0].path == "/v2/listen"
        assert dg.connections[0].query["model"] == "flux-general-en"


async def test_deepgram_flux_eager_end_of_turn_and_resume() -> None:
    from pipecat.services.deepgram.flux.stt import DeepgramFluxSTTService

    async with FakeDeepgram(transcripts=["wait a moment please"]) as dg:
        stt = DeepgramFluxSTTService(
            api_key=KEY,
            url=f"{dg.ws_url}/v2/listen",
            sample_rate=16000,
            enable_eager_end_of_turn=True,
        )
        events: list[str] = []

        @stt.event_handler("on_eager_end_of_turn")
        async def _eager(_service: object, transcript: str) -> None:
            events.append(f"eager:{transcript}")

        @stt.event_handler("on_turn_resumed")
        async def _resumed(_service: object) -> None:
            events.append("resumed")

        @stt.event_handler("on_end_of_turn")
        async def _end(_service: object, transcript: str) -> None:
            events.append(f"end:{transcript}")

        # A 300 ms pause mid-turn: long enough for a prediction, too short to end the turn.
        audio = (
            silence_pcm(0.2, 16000)
            + speech_pcm("wait", 16000)
            + silence_pcm(0.3, 16000)
            + speech_pcm("a moment please", 16000)
            + silence_pcm(0.8, 16000)
        )
        async with running(stt) as h:
            await h.send_audio(audio)
            await h.wait_for(lambda: any(e.startswith("end:") for e in events))
        assert "eager_eot_threshold" in dg.connections[0].query
        assert events[-1] == "end:wait a moment please"
        assert "resumed" in events
        resumed_at = events.index("resumed")
        assert any(e.startswith("eager:") for e in events[:resumed_at])  # withdrawn prediction
        assert events[-2] == "eager:wait a moment please"  # the final prediction held


async def test_stt_fails_over_mid_call_and_reports_the_switch() -> None:
    reports: list[ProviderFailover] = []
    first = utterance("hello there", 16000)
    messages_in_first = len(first) // 640 + 1
    # Nova drops the socket shortly after the first utterance; Flux (same account) is the
    # fallback. Transcripts are scripted by utterance order across both endpoints.
    async with FakeDeepgram(
        transcripts=["hello there", "still here"],
        close_after_audio_messages=messages_in_first + 5,
        fail_path="/v1/listen",
    ) as dg:
        settings = ProviderSettings(
            stt=STTChoice(provider="deepgram"), fallback_stt=STTChoice(provider="deepgram-flux")
        )
        stage = build_stt_stage(
            settings, creds_for("deepgram", dg.ws_url), sample_rate=16000, on_failover=reports.append
        )
        assert isinstance(stage, FailoverSwitcher)
        async with running(stage) as h:
            await h.send_audio(first)
            await h.wait_for(lambda: h.collector.of(TranscriptionFrame))
            await h.send_audio(silence_pcm(0.4, 16000))  # crosses the drop threshold
            await h.wait_for(lambda: reports)
            await h.send_audio(utterance("still here", 16000))
            await h.wait_for(lambda: len(h.collector.of(TranscriptionFrame)) == 2)
        assert [f.text for f in h.collector.of(TranscriptionFrame)] == [
            "hello there",
            "still here",
        ]
        assert len(reports) == 1
        assert (reports[0].kind, reports[0].from_provider, reports[0].to_provider) == (
            "stt",
            "deepgram",
            "deepgram-flux",
        )
        assert reports[0].reason
        assert stage.active_provider == "deepgram-flux"
        nova = [c for c in dg.connections if c.path == "/v1/listen"]
        flux = [c for c in dg.connections if c.path == "/v2/listen"]
        assert nova[0].audio_messages == messages_in_first + 5  # dropped at the threshold
        assert flux and sum(c.audio_messages for c in flux) > 0  # the rest went to Flux


# --- text-to-speech ----------------------------------------------------------------------

TTS_CASES = [
    ("deepgram", FakeDeepgramAura, 8000),
    ("openai", FakeOpenAISpeech, 16000),
    ("elevenlabs", FakeElevenLabs, 8000),
    ("cartesia", FakeCartesia, 16000),
]


@pytest.mark.parametrize(("provider", "fake_cls", "rate"), TTS_CASES)
async def test_tts_provider_speaks_at_the_requested_rate(
    provider: str, fake_cls: type, rate: int
) -> None:
    text = "Thanks for calling. How can I help you today?"
    async with fake_cls(api_key=KEY) as fake:
        url = fake.base_url if provider == "openai" else fake.ws_url
        tts = build_tts(TTSChoice(provider=provider), creds_for(provider, url), sample_rate=rate)
        async with running(tts, out_rate=rate) as h:
            await h.worker.queue_frame(TTSSpeakFrame(text))
            await h.wait_for(lambda: h.collector.of(TTSStoppedFrame))
        audio = h.collector.of(TTSAudioRawFrame)
        assert audio and {f.sample_rate for f in audio} == {rate}
        pcm = b"".join(f.audio for f in audio)
        expected = len(synthesize(text, rate))
        assert 0.9 * expected <= len(pcm) <= 1.1 * expected  # all of it, at the right rate
        assert rms(pcm) > 500  # speech, not silence
        assert fake.texts == [text]
        assert KEY in (fake.requests[0]["auth"] or "")


async def test_tts_fails_over_when_the_primary_returns_500() -> None:
    reports: list[ProviderFailover] = []
    async with (
        FakeOpenAISpeech(fail_status=500) as openai_fake,
        FakeDeepgramAura() as aura,
    ):
        creds = resolve_credentials(
            {
                "openai": StoredCredential(KEY, openai_fake.base_url),
                "deepgram": StoredCredential(KEY, aura.ws_url),
            },
            egress=LOCAL,
        )
        settings = ProviderSettings(
            tts=TTSChoice(provider="openai"), fallback_tts=TTSChoice(provider="deepgram")
        )
        stage = build_tts_stage(settings, creds, sample_rate=16000, on_failover=reports.append)
        async with running(stage) as h:
            await h.worker.queue_frame(TTSSpeakFrame("First sentence."))
            await h.wait_for(lambda: reports)
            await h.worker.queue_frame(TTSSpeakFrame("Second sentence."))
            await h.wait_for(lambda: h.collector.of(TTSAudioRawFrame) and aura.texts)
            await h.wait_for(lambda: h.collector.of(TTSStoppedFrame))
        assert [(r.kind, r.from_provider, r.to_provider) for r in reports] == [
            ("tts", "openai", "deepgram")
        ]
        assert "500" in reports[0].reason
        assert len(openai_fake.requests) >= 1  # the primary was really tried
        assert aura.texts == ["Second sentence."]
        assert {f.sample_rate for f in h.collector.of(TTSAudioRawFrame)} == {16000}


async def test_stt_fails_over_when_the_primary_refuses_the_connection() -> None:
    reports: list[ProviderFailover] = []
    async with FakeDeepgram(
        transcripts=["can you hear me"], reject_status=401, fail_path="/v1/listen"
    ) as dg:
        settings = ProviderSettings(
            stt=STTChoice(provider="deepgram"), fallback_stt=STTChoice(provider="deepgram-flux")
        )
        stage = build_stt_stage(
            settings, creds_for("deepgram", dg.ws_url), sample_rate=16000, on_failover=reports.append
        )
        async with running(stage) as h:
            await h.wait_for(lambda: reports)
            await h.send_audio(utterance("can you hear me", 16000))
            await h.wait_for(lambda: h.collector.of(TranscriptionFrame))
        assert [f.text for f in h.collector.of(TranscriptionFrame)] == ["can you hear me"]
        assert [(r.from_provider, r.to_provider) for r in reports] == [
            ("deepgram", "deepgram-flux")
        ]
        assert "401" in reports[0].reason


async def test_tts_fails_over_when_the_primary_websocket_drops() -> None:
    reports: list[ProviderFailover] = []
    async with (
        FakeCartesia(close_after_messages=1) as cartesia,
        FakeElevenLabs() as eleven,
    ):
        creds = resolve_credentials(
            {
                "cartesia": StoredCredential(KEY, cartesia.ws_url),
                "elevenlabs": StoredCredential(KEY, eleven.ws_url),
            },
            egress=LOCAL,
        )
        settings = ProviderSettings(
            tts=TTSChoice(provider="cartesia"), fallback_tts=TTSChoice(provider="elevenlabs")
        )
        stage = build_tts_stage(settings, creds, sample_rate=8000, on_failover=reports.append)
        async with running(stage, out_rate=8000) as h:
            await h.worker.queue_frame(TTSSpeakFrame("This one is lost."))
            await h.wait_for(lambda: reports)
            await h.worker.queue_frame(TTSSpeakFrame("This one is heard."))
            await h.wait_for(lambda: eleven.texts and h.collector.of(TTSAudioRawFrame))
        assert [(r.kind, r.from_provider, r.to_provider) for r in reports] == [
            ("tts", "cartesia", "elevenlabs")
        ]
        assert cartesia.texts == []  # the socket dropped before any synthesis
        assert eleven.texts == ["This one is heard."]
        assert {f.sample_rate for f in h.collector.of(TTSAudioRawFrame)} == {8000}
