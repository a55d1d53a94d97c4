"""The call's language reaches every speech provider on the wire: the real pipecat services
(and their SDKs) against the fakes on 127.0.0.1, which record what each request asked for.

Each service runs in a small real pipeline (service, then a collector); speech services get
one sentence to say, recognisers just connect (Nova and Flux open their websocket at start).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from pipecat.frames.frames import EndFrame, Frame, TTSSpeakFrame, TTSStoppedFrame
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.runner import WorkerRunner
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from pipeline.providers import (
    ProviderSettings,
    StoredCredential,
    STTChoice,
    TTSChoice,
    build_stt,
    build_tts,
    resolve_credentials,
)
from pipeline.providers.config import ProviderCredentials
from runtime.egress import EgressPolicy
from tests.fakes.deepgram_server import FakeDeepgram
from tests.fakes.tts_servers import FakeCartesia, FakeDeepgramAura, FakeElevenLabs, FakeOpenAISpeech

KEY = "lang-key"
LOCAL = EgressPolicy(allow_private=True)  # the fakes are on loopback


def creds(provider: str, url: str) -> ProviderCredentials:
    return resolve_credentials({provider: StoredCredential(api_key=KEY, base_url=url)},
                               egress=LOCAL)


class Collector(FrameProcessor):
    def __init__(self) -> None:
        super().__init__()
        self.frames: list[Frame] = []

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        self.frames.append(frame)
        await self.push_frame(frame, direction)


@asynccontextmanager
async def running(service: FrameProcessor, rate: int = 16000) -> AsyncIterator[Collector]:
    collector = Collector()
    worker = PipelineWorker(Pipeline([service, collector]), cancel_on_idle_timeout=False,
                            params=PipelineParams(audio_in_sample_rate=rate,
                                                  audio_out_sample_rate=rate))
    started = asyncio.Event()

    @worker.event_handler("on_pipeline_started")
    async def _started(_worker: PipelineWorker, _frame: Frame) -> None:
        started.set()

    runner = WorkerRunner(handle_sigint=False)
    await runner.add_workers(worker)
    task = asyncio.create_task(runner.run())
    try:
        await asyncio.wait_for(started.wait(), 15)
        yield collector
        await worker.queue_frame(EndFrame())
        await asyncio.wait_for(task, 20)
    finally:
        task.cancel()


async def until(condition: Callable[[], object], timeout: float = 10.0) -> None:
    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0.02)

    await asyncio.wait_for(poll(), timeout)


async def speak(service: FrameProcessor, text: str = "Bonjour.") -> Collector:
    async with running(service) as collector:
        await service.queue_frame(TTSSpeakFrame(text))
        await until(lambda: any(isinstance(f, TTSStoppedFrame) for f in collector.frames))
    return collector


# --- speech-to-text ----------------------------------------------------------------------


async def test_deepgram_nova_gets_the_language_and_a_model_for_it() -> None:
    async with FakeDeepgram(transcripts=["x"], api_key=KEY) as dg:
        choices = [STTChoice(provider="deepgram", language=language)
                   for language in ("fr-FR", "pt-BR", "en-GB", "th")]
        # an explicit model still wins, with the language
        choices.append(STTChoice(provider="deepgram", model="nova-2-general", language="de"))
        for i, choice in enumerate(choices):
            async with running(build_stt(choice, creds("deepgram", dg.ws_url))):
                await until(lambda i=i: len(dg.connections) > i)
    assert [(c.query["model"], c.language) for c in dg.connections] == [
        ("nova-3", "fr"), ("nova-3", "pt-BR"), ("nova-3-general", "en-GB"), ("nova-2", "th"),
        ("nova-2-general", "de")]


async def test_deepgram_flux_multilingual_model_with_a_language_hint() -> None:
    async with FakeDeepgram(transcripts=["x"], api_key=KEY) as dg:
        stt = build_stt(STTChoice(provider="deepgram-flux", language="es-MX"),
                        creds("deepgram", dg.ws_url), sample_rate=16000)
        async with running(stt):
            await until(lambda: dg.connections)
        english = build_stt(STTChoice(provider="deepgram-flux", language="en-US"),
                            creds("deepgram", dg.ws_url), sample_rate=16000)
        async with running(english):
            await until(lambda: len(dg.connections) == 2)
    spanish, en = dg.connections
    assert spanish.path == "/v2/listen"
    assert spanish.query["model"] == "flux-general-multi" and spanish.language_hints == ["es"]
    assert en.query["model"] == "flux-general-en" and en.language_hints == []


# --- text-to-speech ----------------------------------------------------------------------


async def test_deepgram_aura_speaks_with_a_voice_of_the_language() -> None:
    async with FakeDeepgramAura(api_key=KEY) as aura:
        await speak(build_tts(TTSChoice(provider="deepgram", language="fr-FR"),
                              creds("deepgram", aura.ws_url), sample_rate=16000))
        await speak(build_tts(TTSChoice(provider="deepgram", language="es-419"),
                              creds("deepgram", aura.ws_url), sample_rate=16000), "Hola.")
        # the workflow's own voice wins
        await speak(build_tts(TTSChoice(provider="deepgram", voice="aura-2-hector-fr",
                                        language="fr"),
                              creds("deepgram", aura.ws_url), sample_rate=16000))
    assert [r["query"]["model"] for r in aura.requests] == [
        "aura-2-agathe-fr", "aura-2-celeste-es", "aura-2-hector-fr"]
    assert aura.languages == ["fr", "es", "fr"]


async def test_openai_speech_is_told_the_language() -> None:
    async with FakeOpenAISpeech(api_key=KEY) as openai:
        await speak(build_tts(TTSChoice(provider="openai", language="fr-CA"),
                              creds("openai", openai.base_url), sample_rate=16000))
        await speak(build_tts(TTSChoice(provider="openai", language="en-US"),
                              creds("openai", openai.base_url), sample_rate=16000), "Hello.")
        await speak(build_tts(TTSChoice(provider="openai", model="tts-1", voice="nova",
                                        language="de"),
                              creds("openai", openai.base_url), sample_rate=16000), "Hallo.")
    french, english, tts1 = (r["body"] for r in openai.requests)
    assert french["instructions"] == "Speak in French." and french["model"] == "gpt-4o-mini-tts"
    assert "instructions" not in english
    # tts-1 takes no instructions: the text's language decides; the named voice wins
    assert "instructions" not in tts1 and tts1["voice"] == "nova" and tts1["model"] == "tts-1"


async def test_elevenlabs_gets_a_multilingual_model_and_the_language_code() -> None:
    async with FakeElevenLabs(api_key=KEY) as eleven:
        await speak(build_tts(TTSChoice(provider="elevenlabs", language="pt-BR"),
                              creds("elevenlabs", eleven.ws_url), sample_rate=16000), "Olá.")
        # eleven_multilingual_v2 takes no language_code (it detects the language)
        await speak(build_tts(TTSChoice(provider="elevenlabs", model="eleven_multilingual_v2",
                                        language="it"),
                              creds("elevenlabs", eleven.ws_url), sample_rate=16000), "Ciao.")
    first, second = eleven.requests
    assert first["query"]["model_id"] == "eleven_flash_v2_5"
    assert second["query"]["model_id"] == "eleven_multilingual_v2"
    assert eleven.languages == ["pt", None]


async def test_cartesia_gets_the_language_in_each_generation_request() -> None:
    async with FakeCartesia(api_key=KEY) as cartesia:
        await speak(build_tts(TTSChoice(provider="cartesia", language="de-DE"),
                              creds("cartesia", cartesia.ws_url), sample_rate=16000), "Hallo.")
    assert cartesia.languages and set(cartesia.languages) == {"de"}


async def test_espeak_speaks_with_its_voice_for_the_language() -> None:
    none = ProviderCredentials(egress=LOCAL)
    for language, voice in (("fr-FR", "fr-fr"), ("de", "de"), ("en-US", "en-us")):
        tts = build_tts(TTSChoice(provider="offline", language=language), none, sample_rate=16000)
        collector = await speak(tts)
        # the voice survived start-up (an unknown voice falls back to en-us) and spoke
        assert tts._settings.voice == voice
        assert any(type(f).__name__ == "TTSAudioRawFrame" for f in collector.frames)


def test_a_language_the_provider_lacks_runs_on_its_defaults() -> None:
    # validation refuses these; a fallback provider met at run time must still build
    stt = build_stt(STTChoice(provider="deepgram-flux", language="zh"),
                    creds("deepgram", "ws://127.0.0.1:9"))
    assert stt._settings.model == "flux-general-en"
    tts = build_tts(TTSChoice(provider="deepgram", language="pt"),
                    creds("deepgram", "ws://127.0.0.1:9"), sample_rate=8000)
    assert tts._settings.voice == "aura-2-helena-en"


def test_the_language_is_laid_over_every_stage_and_fallback() -> None:
    settings = ProviderSettings(stt=STTChoice(provider="deepgram"),
                                tts=TTSChoice(provider="cartesia", language="en"),
                                fallback_tts=TTSChoice(provider="offline"))
    spanish = settings.in_language("es")
    assert (spanish.stt.language, spanish.tts.language) == ("es", "es")
    assert spanish.fallback_tts is not None and spanish.fallback_tts.language == "es"
    assert spanish.fallback_stt is None
