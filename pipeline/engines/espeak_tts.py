"""espeak-ng text-to-speech as a pipecat TTS service (offline, no keys, no network).

Synthesis runs on a worker thread (espeak's C code releases the GIL); each PCM chunk espeak
produces is handed to the event loop through an asyncio queue, resampled from espeak's
native 22.05 kHz to the pipeline's output rate and pushed as a ``TTSAudioRawFrame`` at
once, so the first audio of a sentence goes out before the rest is synthesised. An
interruption cancels ``run_tts``; the worker sees the stop flag at its next chunk, espeak
aborts the synthesis and the remaining chunks are dropped.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncGenerator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from loguru import logger
from pipecat.audio.resamplers.base_audio_resampler import BaseAudioResampler
from pipecat.audio.utils import create_stream_resampler
from pipecat.frames.frames import ErrorFrame, Frame, StartFrame, TTSAudioRawFrame
from pipecat.services.settings import TTSSettings
from pipecat.services.tts_service import TTSService
from pipecat.utils.tracing.service_decorators import traced_tts
from pipecat.utils.types import NOT_GIVEN, NotGiven, is_given

from pipeline.engines import espeak

DEFAULT_VOICE = "en-us"
DEFAULT_RATE_WPM = 175

_DONE = object()

# espeak-ng synthesises one text at a time per process (pipeline.engines.espeak holds a
# lock), so one dedicated thread serves every call: waiting syntheses queue here instead of
# occupying the default executor's threads.
_synthesis_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="espeak")


@dataclass
class EspeakTTSSettings(TTSSettings):
    """Settings for :class:`EspeakTTSService`.

    Parameters:
        rate_wpm: Speaking rate in words per minute (80-450).
    """

    rate_wpm: int | NotGiven = field(default_factory=lambda: NOT_GIVEN)


def _resampler_for(out_rate: int) -> BaseAudioResampler:
    """A streaming resampler priced for the output: telephony rates get soxr's low-quality
    preset (a proper anti-alias filter, far cheaper than the default very-high quality,
    and far above what 8 kHz mu-law can carry); wideband output gets high quality."""
    quality = "LQ" if out_rate <= 16000 else "HQ"
    return create_stream_resampler(quality=quality, clear_after_secs=None)


class EspeakTTSService(TTSService):
    """Offline TTS with espeak-ng, streaming audio chunks as they are synthesised."""

    Settings = EspeakTTSSettings
    _settings: EspeakTTSSettings

    def __init__(
        self,
        *,
        voice: str = DEFAULT_VOICE,
        rate_wpm: int = DEFAULT_RATE_WPM,
        sample_rate: int | None = None,
        settings: EspeakTTSSettings | None = None,
        **kwargs: Any,
    ) -> None:
        """Create the service.

        Args:
            voice: espeak-ng voice name (``en-us``, ``en-us+f2``) or language (``en-gb``).
            rate_wpm: Speaking rate in words per minute.
            sample_rate: Output rate; defaults to the pipeline's output rate.
            settings: Settings delta applied over ``voice``/``rate_wpm``.
            **kwargs: Passed to pipecat's ``TTSService``.
        """
        default_settings = EspeakTTSSettings(model="espeak-ng", voice=voice, language=None, rate_wpm=rate_wpm)
        if settings is not None:
            default_settings.apply_update(settings)
        super().__init__(
            push_start_frame=True,
            push_stop_frames=True,
            sample_rate=sample_rate,
            settings=default_settings,
            **kwargs,
        )
        self._chunk_resampler: BaseAudioResampler | None = None
        self._source_rate = 0

    def can_generate_metrics(self) -> bool:
        return True

    async def start(self, frame: StartFrame) -> None:
        await super().start(frame)
        self._chunk_resampler = _resampler_for(self.sample_rate)
        # Loads and initialises espeak-ng off the event loop (once per process).
        self._source_rate = await asyncio.to_thread(espeak.sample_rate)
        voice = self._voice()
        if not await asyncio.to_thread(espeak.has_voice, voice):
            # A call must not go mute over a bad voice setting.
            logger.warning(f"{self}: unknown espeak-ng voice {voice!r}, using {DEFAULT_VOICE!r}")
            self._settings.voice = DEFAULT_VOICE

    def _voice(self) -> str:
        voice = self._settings.voice
        return voice if is_given(voice) and voice else DEFAULT_VOICE

    def _rate(self) -> int:
        rate = self._settings.rate_wpm
        return int(rate) if is_given(rate) and rate else DEFAULT_RATE_WPM

    async def run_tts(self, text: str, context_id: str) -> AsyncGenerator[Frame, None]:
        """Synthesise ``text``, yielding audio frames as espeak produces them.

        Voice and rate are read per sentence, so a settings update applies from the next one.
        """
        await self.start_tts_usage_metrics(text)
        loop = asyncio.get_running_loop()
        chunks: asyncio.Queue[object] = asyncio.Queue()
        stop = threading.Event()
        voice, rate = self._voice(), self._rate()

        def on_chunk(pcm: bytes) -> bool:
            if stop.is_set():
                return False  # interrupted: espeak aborts the synthesis
            loop.call_soon_threadsafe(chunks.put_nowait, pcm)
            return True

        def synthesize() -> None:
            if stop.is_set():  # interrupted while queued behind another call's synthesis
                loop.call_soon_threadsafe(chunks.put_nowait, _DONE)
                return
            try:
                espeak.synthesize_stream(text, on_chunk, voice=voice, rate_wpm=rate)
            except Exception as e:
                loop.call_soon_threadsafe(chunks.put_nowait, e)
            finally:
                loop.call_soon_threadsafe(chunks.put_nowait, _DONE)

        resampler = self._chunk_resampler or _resampler_for(self.sample_rate)
        source_rate = self._source_rate or await asyncio.to_thread(espeak.sample_rate)
        worker = loop.run_in_executor(_synthesis_thread, synthesize)
        finished = False
        try:
            while (item := await chunks.get()) is not _DONE:
                if isinstance(item, bytes):
                    await self.stop_ttfb_metrics()
                    audio = await resampler.resample(item, source_rate, self.sample_rate)
                    if audio:
                        yield TTSAudioRawFrame(audio, self.sample_rate, 1, context_id=context_id)
                elif isinstance(item, Exception):
                    yield ErrorFrame(error=f"espeak-ng synthesis failed: {item}")
            if source_rate != self.sample_rate:
                tail = await resampler.flush()
                if tail:
                    yield TTSAudioRawFrame(tail, self.sample_rate, 1, context_id=context_id)
            finished = True
        finally:
            stop.set()
            if not finished:
                # Interrupted mid-sentence: drop the filter's history with the audio.
                await resampler.reset()
                worker.add_done_callback(_consume_result)


def _consume_result(future: asyncio.Future[None]) -> None:
    """Retrieve an abandoned worker's outcome so asyncio does not log it as unretrieved."""
    if not future.cancelled():
        future.exception()


class TracedEspeakTTSService(EspeakTTSService):
    """The same engine with a pipecat "tts" span per utterance, for calls that are traced.

    A class of its own because pipecat's ``@traced_tts`` wraps the class's ``push_frame``:
    untraced calls keep the plain class and pay nothing per frame.
    """

    @traced_tts
    async def run_tts(self, text: str, context_id: str) -> AsyncGenerator[Frame, None]:
        async for frame in super().run_tts(text, context_id):
            yield frame
