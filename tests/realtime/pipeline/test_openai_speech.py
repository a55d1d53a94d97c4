"""OpenAI speech over aiohttp (``pipeline/providers/openai_speech.py``): what it sends, when it
retries, and that every failure is an ``ErrorFrame`` naming it (BENCHMARKS.md step 21)."""

from __future__ import annotations

import ipaddress
from typing import Any

from aiohttp import web
from pipecat.frames.frames import (
    ErrorFrame,
    Frame,
    TTSAudioRawFrame,
    TTSSpeakFrame,
    TTSStoppedFrame,
)
from pipecat.pipeline.pipeline import Pipeline
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from pipeline.providers import StoredCredential, TTSChoice, build_tts, resolve_credentials
from runtime.egress import EgressPolicy, IPAddress
from tests.fakes.tts_servers import FakeOpenAISpeech
from tests.realtime.pipeline.test_providers_speech import KEY, creds_for, running

TEXT = "Your table is booked."


class FailingFirst(FakeOpenAISpeech):
    """Answers the first ``failures`` requests with ``status``, then speaks."""

    def __init__(self, status: int, failures: int = 1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.status, self.failures = status, failures

    async def _speech_endpoint(self, request: web.Request) -> web.StreamResponse:
        if self.failures:
            self.failures -= 1
            self.requests.append({"path": request.path, "auth": None})
            return web.json_response({"error": {"message": "overloaded"}}, status=self.status)
        return await super()._speech_endpoint(request)


class HangsUpMidSentence(FakeOpenAISpeech):
    """Sends the first part of the audio, then drops the connection."""

    async def _speech_endpoint(self, request: web.Request) -> web.StreamResponse:
        self.requests.append({"path": request.path, "auth": None})
        response = web.StreamResponse(headers={"Content-Type": "audio/pcm"})
        await response.prepare(request)
        await response.write(b"\x10\x00" * 24_000)  # half a second of 24 kHz PCM
        assert request.transport is not None
        request.transport.close()
        return response


class Spoken:
    def __init__(self, audio: list[TTSAudioRawFrame], errors: list[str]) -> None:
        self.audio, self.errors = audio, errors


class UpstreamErrors(FrameProcessor):
    """Records the error frames a service pushes upstream (towards a failover switcher)."""

    def __init__(self) -> None:
        super().__init__()
        self.errors: list[str] = []

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, ErrorFrame) and direction == FrameDirection.UPSTREAM:
            self.errors.append(frame.error)
        else:
            await self.push_frame(frame, direction)


async def _speak(tts: Any, text: str = TEXT, rate: int = 8000) -> Spoken:
    upstream = UpstreamErrors()
    async with running(Pipeline([upstream, tts]), out_rate=rate) as h:
        await h.worker.queue_frame(TTSSpeakFrame(text))
        await h.wait_for(lambda: h.collector.of(TTSStoppedFrame) or upstream.errors)
    return Spoken(h.collector.of(TTSAudioRawFrame), upstream.errors)


async def test_the_request_carries_the_key_model_voice_and_language_instructions() -> None:
    async with FakeOpenAISpeech(api_key=KEY) as fake:
        choice = TTSChoice(provider="openai", language="de", model="gpt-4o-mini-tts",
                           voice="nova")
        spoken = await _speak(build_tts(choice, creds_for("openai", fake.base_url), 8000))
    assert spoken.audio and not spoken.errors
    assert fake.requests[0]["auth"] == f"Bearer {KEY}"
    assert fake.requests[0]["path"] == "/v1/audio/speech"
    assert fake.requests[0]["body"] == {"input": TEXT, "model": "gpt-4o-mini-tts",
                                        "voice": "nova", "response_format": "pcm",
                                        "instructions": "Speak in German."}


async def test_a_server_error_is_retried_once_at_once() -> None:
    async with FailingFirst(503, api_key=KEY) as fake:
        spoken = await _speak(build_tts(TTSChoice(provider="openai"),
                                           creds_for("openai", fake.base_url), 8000))
    assert len(fake.requests) == 2 and fake.texts == [TEXT]
    assert spoken.audio and not spoken.errors


async def test_a_second_server_error_is_an_error_frame_naming_the_status() -> None:
    async with FailingFirst(500, failures=5, api_key=KEY) as fake:
        spoken = await _speak(build_tts(TTSChoice(provider="openai"),
                                           creds_for("openai", fake.base_url), 8000))
    assert len(fake.requests) == 2  # one retry, no more
    assert "HTTP 500" in spoken.errors[0] and "overloaded" in spoken.errors[0]


async def test_a_refused_key_is_not_retried() -> None:
    async with FakeOpenAISpeech(api_key="another-key") as fake:
        spoken = await _speak(build_tts(TTSChoice(provider="openai"),
                                           creds_for("openai", fake.base_url), 8000))
    assert len(fake.requests) == 1
    assert "HTTP 401" in spoken.errors[0] and not spoken.audio


async def test_a_connection_lost_mid_sentence_is_not_retried_so_no_audio_repeats() -> None:
    async with HangsUpMidSentence(api_key=KEY) as fake:
        spoken = await _speak(build_tts(TTSChoice(provider="openai"),
                                           creds_for("openai", fake.base_url), 8000))
    assert len(fake.requests) == 1
    assert "not completed" in spoken.errors[0]


async def test_a_tenant_url_that_resolves_to_a_private_address_is_refused() -> None:
    async def resolve(_host: str, _port: int) -> list[IPAddress]:
        return [ipaddress.ip_address("169.254.169.254")]  # cloud metadata

    async with FakeOpenAISpeech(api_key=KEY) as fake:
        creds = resolve_credentials(
            {"openai": StoredCredential(KEY, f"http://tts.tenant.example:{fake.port}/v1")},
            egress=EgressPolicy(resolver=resolve))
        spoken = await _speak(build_tts(TTSChoice(provider="openai"), creds, 8000))
    assert fake.requests == []
    assert "link-local" in spoken.errors[0] and not spoken.audio
