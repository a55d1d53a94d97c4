"""OpenAI text-to-speech (``POST /audio/speech``, streamed ``pcm``) over aiohttp.

pipecat's ``OpenAITTSService`` sends each sentence through the OpenAI SDK, whose request
building and httpx stack cost ~4 ms of the event loop's CPU per sentence on the bench
machine; the same streamed request through aiohttp costs ~1 ms (``python -m
bench.speech_request``, BENCHMARKS.md step 21).
A reply is usually two or three sentences, each one request, so this service speaks the
endpoint's wire format itself: a JSON body, a bearer key, 24 kHz 16-bit PCM streamed back.

It also resamples the stream to the call's rate (OpenAI's ``pcm`` is always 24 kHz; pipecat's
service labels it with the pipeline's rate as is, which garbles 8 kHz/16 kHz calls) and turns
every failure (an HTTP error status, a refused destination, a broken connection) into an
``ErrorFrame`` so a failover switcher can move off the provider.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator

import aiohttp
from pipecat.audio.resamplers.soxr_stream_resampler import SOXRStreamAudioResampler
from pipecat.frames.frames import ErrorFrame, Frame, StartFrame
from pipecat.services.openai.tts import OpenAITTSService
from pipecat.services.tts_service import TTSService

from pipeline.providers.speech_reads import RESAMPLE_QUALITY, speech_reads
from runtime.egress_aiohttp import AiohttpEgress

OPENAI_TTS_SAMPLE_RATE = 24_000  # OpenAI's "pcm" format is always 24 kHz mono s16le
#: Statuses worth one immediate retry (a live caller is better served by a fallback than
#: by backoff); the SDK this replaces also retried once, after ~0.5 s.
RETRY_STATUSES = frozenset({500, 502, 503, 504})
ERROR_BODY_CHARS = 300


class SpeechRequestFailed(Exception):
    """The speech endpoint answered with an error status; the message names it."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"HTTP {status}: {detail}")
        self.status = status


class OpenAISpeechService(OpenAITTSService):
    """OpenAI speech at any output rate, one aiohttp request per sentence."""

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str,
        voice: str,
        model: str,
        http: AiohttpEgress,
        instructions: str | None = None,
        sample_rate: int | None = None,
    ) -> None:
        # TTSService directly: the parent's own __init__ only adds an SDK client this service
        # does not use, and warns about any rate but 24 kHz (this one resamples).
        TTSService.__init__(
            self,
            sample_rate=sample_rate,
            push_start_frame=True,
            push_stop_frames=True,
            settings=OpenAITTSService.Settings(model=model, voice=voice, language=None,
                                               instructions=instructions, speed=None),
        )
        self._url = base_url.rstrip("/") + "/audio/speech"
        self._headers = {"Authorization": f"Bearer {api_key}"}
        self._http = http
        self._resampler = SOXRStreamAudioResampler(quality=RESAMPLE_QUALITY)

    async def start(self, frame: StartFrame) -> None:
        await TTSService.start(self, frame)  # skip the parent's 24 kHz-only warning

    def can_generate_metrics(self) -> bool:
        return True

    def _body(self, text: str) -> dict[str, object]:
        body: dict[str, object] = {
            "input": text,
            "model": self._settings.model,
            "voice": self._settings.voice,
            "response_format": "pcm",
        }
        if self._settings.instructions:
            body["instructions"] = self._settings.instructions
        if self._settings.speed:
            body["speed"] = self._settings.speed
        return body

    async def run_tts(self, text: str, context_id: str) -> AsyncGenerator[Frame | None, None]:
        body = self._body(text)
        try:
            await self.start_ttfb_metrics()
            spoken = False
            for attempt in (1, 2):
                try:
                    async with self._http.post(self._url, json=body,
                                               headers=self._headers) as response:
                        if response.status != 200:
                            detail = (await response.text(errors="replace"))[:ERROR_BODY_CHARS]
                            raise SpeechRequestFailed(response.status, detail)
                        await self.start_tts_usage_metrics(text)
                        async for frame in self._stream_audio_frames_from_iterator(
                            speech_reads(response.content.iter_any(), OPENAI_TTS_SAMPLE_RATE),
                            in_sample_rate=OPENAI_TTS_SAMPLE_RATE,
                            context_id=context_id,
                        ):
                            await self.stop_ttfb_metrics()
                            spoken = True
                            yield frame
                    return
                except (SpeechRequestFailed, aiohttp.ClientConnectionError) as exc:
                    if attempt == 2 or spoken or not _worth_a_retry(exc):
                        raise
        except Exception as exc:  # noqa: BLE001 - any failure is reported, not raised
            yield ErrorFrame(error=f"OpenAI TTS failed: {exc}", exception=exc)


def _worth_a_retry(exc: Exception) -> bool:
    """A broken connection, or a server error status (never once audio has been spoken)."""
    if isinstance(exc, SpeechRequestFailed):
        return exc.status in RETRY_STATUSES
    return True
