"""PocketSphinx speech-to-text as a pipecat STT service (offline, English).

Why a streaming ``STTService`` and not ``SegmentedSTTService``: PocketSphinx decodes
incrementally, so feeding it audio while the caller speaks means the final transcript is
ready a few milliseconds after the VAD reports the end of speech (only ``end_utt`` is left),
and partial hypotheses can be sent as ``InterimTranscriptionFrame`` on the way. A segmented
service would only start decoding at the end of speech (~0.2 x the utterance length later).

Decoding is still gated by the pipeline's VAD frames (``VADUserStartedSpeakingFrame`` /
``VADUserStoppedSpeakingFrame``, which pipecat 1.14's user aggregator broadcasts upstream):
silence costs nothing, and a decoder from the process-wide pool
(:mod:`pipeline.engines.sphinx_decoders`) is held only for the length of one utterance. About
one second of audio before the VAD fired is kept and decoded too, so the first word is not
lost. The pipeline must therefore run a VAD (the offline pipeline always does).

Threading: the audio path only resamples a frame to 16 kHz and puts it on a thread-safe
queue. A worker thread (one per utterance in flight, from a dedicated executor) feeds the
decoder one frame at a time and posts hypotheses back to the event loop, where a task pushes
the frames. Each call keeps its own cepstral-mean estimate across utterances, so pooled
decoders adapt to the caller they currently serve.
"""

from __future__ import annotations

import asyncio
import queue
from collections.abc import AsyncGenerator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from loguru import logger
from pipecat.audio.utils import create_stream_resampler
from pipecat.frames.frames import (
    CancelFrame,
    EndFrame,
    Frame,
    InputAudioRawFrame,
    InterimTranscriptionFrame,
    StartFrame,
    TranscriptionFrame,
    UserAudioRawFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.processors.frame_processor import FrameDirection
from pipecat.services.settings import STTSettings
from pipecat.services.stt_service import STTService
from pipecat.transcriptions.language import Language
from pipecat.utils.time import time_now_iso8601

from pipeline.engines.sphinx_decoders import MODEL_SAMPLE_RATE, DecoderPool, shared_pool

# Threads that run utterances. They mostly wait for audio, so there can be many.
_executor = ThreadPoolExecutor(max_workers=64, thread_name_prefix="pocketsphinx")

_END = b""  # sentinel: finish the utterance and report the final hypothesis
_CANCEL = None  # sentinel: finish the utterance and report nothing

#: Measured P99 from VAD stop to final transcript is far below this (end_utt only);
#: it leaves room for a decoder that is a few frames behind on a busy host.
TTFS_P99_SECONDS = 0.3


def _hypothesis(decoder) -> str:
    hyp = decoder.hyp()
    return hyp.hypstr.strip() if hyp else ""


@dataclass(slots=True)
class _Result:
    text: str
    final: bool


class PocketSphinxSTTService(STTService):
    """Offline English STT with PocketSphinx; streams interim and final transcripts."""

    def __init__(
        self,
        *,
        pool: DecoderPool | None = None,
        preroll_secs: float = 1.0,
        interim_every_secs: float = 0.3,
        sample_rate: int | None = None,
        **kwargs,
    ) -> None:
        """Create the service.

        Args:
            pool: Decoder pool; defaults to the process-wide one.
            preroll_secs: Audio kept from before the VAD start and decoded with the utterance.
            interim_every_secs: How often (audio time) a changed partial hypothesis is sent.
            sample_rate: Input rate; defaults to the pipeline's input rate.
            **kwargs: Passed to pipecat's ``STTService``.
        """
        kwargs.setdefault("ttfs_p99_latency", TTFS_P99_SECONDS)
        super().__init__(
            sample_rate=sample_rate,
            settings=STTSettings(model="pocketsphinx-en-us", language=Language.EN_US),
            **kwargs,
        )
        self._pool = pool or shared_pool
        self._preroll_secs = preroll_secs
        self._interim_bytes = int(interim_every_secs * MODEL_SAMPLE_RATE) * 2
        self._preroll = bytearray()
        self._preroll_max = 0
        self._resampler = create_stream_resampler(quality="LQ", clear_after_secs=None)
        self._feed: queue.SimpleQueue[bytes | None] | None = None
        self._utterance: asyncio.Future[None] | None = None
        self._results: asyncio.Queue[_Result] = asyncio.Queue()
        self._results_task: asyncio.Task | None = None
        self._cmn: str | None = None
        #: Seconds of audio (at the input rate) handed to the decoder during this call.
        self.audio_seconds = 0.0

    def can_generate_metrics(self) -> bool:
        return True

    async def start(self, frame: StartFrame) -> None:
        await super().start(frame)
        self._preroll_max = int(self.sample_rate * self._preroll_secs) * 2
        if not self._results_task:
            self._results_task = self.create_task(self._push_results(), name="pocketsphinx")

    async def stop(self, frame: EndFrame) -> None:
        # A graceful end transcribes what the caller said last.
        await self._finish_utterance(_END)
        if self._utterance is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._utterance), timeout=5.0)
            except TimeoutError:
                logger.warning(f"{self}: last utterance still decoding at end of call")
        await self._drain_results()
        await self._stop_results_task()
        await super().stop(frame)

    async def cancel(self, frame: CancelFrame) -> None:
        await self._finish_utterance(_CANCEL)
        await self._stop_results_task()
        await super().cancel(frame)

    async def cleanup(self) -> None:
        await self._finish_utterance(_CANCEL)
        await self._stop_results_task()
        await super().cleanup()

    async def run_stt(self, audio: bytes) -> AsyncGenerator[Frame | None, None]:
        """Unused: audio is fed to the decoder thread from :meth:`process_audio_frame`."""
        yield None

    # Audio path

    async def process_audio_frame(self, frame: InputAudioRawFrame, direction: FrameDirection):
        if self._muted or not self.is_usable or not frame.audio:
            return
        self._user_id = frame.user_id if isinstance(frame, UserAudioRawFrame) else ""
        if self._feed is not None:
            await self._feed_audio(frame.audio)
            return
        # Not in an utterance: keep only the recent past for the next one.
        self._preroll += frame.audio
        excess = len(self._preroll) - self._preroll_max
        if excess > 0:
            del self._preroll[:excess]

    async def process_frame(self, frame: Frame, direction: FrameDirection):
        await super().process_frame(frame, direction)
        if isinstance(frame, VADUserStartedSpeakingFrame):
            await self._begin_utterance()
        elif isinstance(frame, VADUserStoppedSpeakingFrame):
            await self._finish_utterance(_END)

    async def _feed_audio(self, audio: bytes) -> None:
        self._record_stt_audio_usage(audio)
        self.audio_seconds += len(audio) / (self.sample_rate * 2)
        if self.sample_rate != MODEL_SAMPLE_RATE:
            audio = await self._resampler.resample(audio, self.sample_rate, MODEL_SAMPLE_RATE)
        if audio and self._feed is not None:
            self._feed.put_nowait(audio)

    # Utterances

    async def _begin_utterance(self) -> None:
        if self._feed is not None or not self.is_usable:
            return
        loop = asyncio.get_running_loop()
        feed: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._feed = feed
        await self._resampler.reset()
        post = self._poster(loop)
        self._utterance = loop.run_in_executor(_executor, self._decode, feed, post)
        preroll = bytes(self._preroll)
        self._preroll.clear()
        if preroll:
            await self._feed_audio(preroll)

    async def _finish_utterance(self, sentinel: bytes | None) -> None:
        feed, self._feed = self._feed, None
        if feed is None:
            return
        if sentinel is _END and self.sample_rate != MODEL_SAMPLE_RATE:
            tail = await self._resampler.flush()
            if tail:
                feed.put_nowait(tail)
        feed.put_nowait(sentinel)
        if sentinel is _END:
            await self.emit_stt_usage_metrics()

    def _poster(self, loop: asyncio.AbstractEventLoop) -> Callable[[_Result], None]:
        results = self._results

        def post(result: _Result) -> None:
            loop.call_soon_threadsafe(results.put_nowait, result)

        return post

    def _decode(self, feed: queue.SimpleQueue[bytes | None], post: Callable[[_Result], None]):
        """Worker thread: decode one utterance fed frame by frame."""
        decoder = None
        try:
            decoder = self._pool.acquire()
            decoder.set_cmn(self._cmn or self._pool.initial_cmn)
            decoder.start_utt()
            last, since_interim = "", 0
            item = feed.get()
            while item:
                decoder.process_raw(item, False, False)
                since_interim += len(item)
                if since_interim >= self._interim_bytes:
                    since_interim = 0
                    text = _hypothesis(decoder)
                    if text and text != last:
                        last = text
                        post(_Result(text, final=False))
                item = feed.get()
            decoder.end_utt()
            if item is _END:
                text = _hypothesis(decoder)
                if text:
                    post(_Result(text, final=True))
                self._cmn = decoder.get_cmn(False)
            self._pool.release(decoder)
        except Exception as e:  # a broken decoder must not take the call down
            logger.warning(f"{self}: pocketsphinx decoding failed: {e}")
            if decoder is not None:
                self._pool.discard(decoder)

    # Results

    async def _push_results(self) -> None:
        while True:
            result = await self._results.get()
            await self._push_result(result)

    async def _drain_results(self) -> None:
        while not self._results.empty():
            await self._push_result(self._results.get_nowait())

    async def _push_result(self, result: _Result) -> None:
        language = Language.EN_US
        if result.final:
            frame = TranscriptionFrame(
                result.text, self._user_id, time_now_iso8601(), language, finalized=True
            )
        else:
            frame = InterimTranscriptionFrame(result.text, self._user_id, time_now_iso8601(), language)
        await self.push_frame(frame)

    async def _stop_results_task(self) -> None:
        if self._results_task:
            await self.cancel_task(self._results_task)
            self._results_task = None
