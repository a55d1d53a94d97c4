"""PocketSphinx speech-to-text as a pipecat STT service (offline, English).

Why a streaming ``STTService`` and not ``SegmentedSTTService``: PocketSphinx decodes
incrementally, so feeding it audio while the caller speaks leaves only the end-of-utterance
pass once the VAD reports the end of speech, and partial hypotheses can be sent as
``InterimTranscriptionFrame`` on the way. A segmented service would only start decoding at
the end of speech (~0.2 x the utterance length later).

Decoding is gated by the pipeline's VAD frames (``VADUserStartedSpeakingFrame`` /
``VADUserStoppedSpeakingFrame``, which pipecat 1.14's user aggregator broadcasts upstream):
silence costs nothing, and a decoder is held only for the length of one utterance. About
one second of audio before the VAD fired is decoded too, so the first word is not lost. The
pipeline must therefore run a VAD (the offline pipeline always does).

Decoding runs in worker processes (:mod:`pipeline.engines.sphinx_workers`), because
pocketsphinx holds the GIL in every call. On the audio path this service only queues the
frame; the worker resamples it to 16 kHz (adding faint high-band noise to narrowband phone
audio, see :mod:`pipeline.engines.sphinx_frontend`) and decodes it. Results come back on a
receiver thread and are handed to the event loop, where a task pushes the frames. Each call
keeps its own cepstral-mean estimate across utterances, so pooled decoders adapt to the
caller they currently serve.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass

from loguru import logger
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
from pipecat.utils.tracing.service_decorators import traced_stt

from pipeline.engines.sphinx_vocabulary import domain_vocabulary
from pipeline.engines.sphinx_workers import SphinxWorkers, Utterance, shared_workers

#: Budget from the real end of speech to the final transcript, used by pipecat's turn-stop
#: strategies as a fallback deadline. Ours arrives after the VAD's stop_secs (0.2 s default)
#: plus the end-of-utterance pass (~50-250 ms) plus queueing on a busy host. A finalized
#: transcript releases the turn at once, so a generous value only delays turns in which
#: nothing was recognised.
TTFS_P99_SECONDS = 0.8


@dataclass(slots=True)
class _Result:
    text: str
    final: bool


class PocketSphinxSTTService(STTService):
    """Offline English STT with PocketSphinx; streams interim and final transcripts."""

    def __init__(
        self,
        *,
        workers: SphinxWorkers | None = None,
        preroll_secs: float = 1.0,
        sample_rate: int | None = None,
        vocabulary: Sequence[str] = (),
        **kwargs,
    ) -> None:
        """Create the service.

        Args:
            workers: Decoder processes; defaults to the process-wide set.
            preroll_secs: Audio kept from before the VAD start and decoded with the utterance.
            sample_rate: Input rate; defaults to the pipeline's input rate.
            vocabulary: Phrases callers are likely to say (a workflow's); when given, speech
                is decoded against a small language model of them
                (:mod:`pipeline.engines.sphinx_vocabulary`) instead of general English.
            **kwargs: Passed to pipecat's ``STTService``.
        """
        kwargs.setdefault("ttfs_p99_latency", TTFS_P99_SECONDS)
        super().__init__(
            sample_rate=sample_rate,
            settings=STTSettings(model="pocketsphinx-en-us", language=Language.EN_US),
            **kwargs,
        )
        self._workers = workers or shared_workers
        self._preroll_secs = preroll_secs
        self._vocabulary = domain_vocabulary(vocabulary) if vocabulary else None
        # Recent frames while nobody speaks (a ring of frames: no copying on the audio path).
        self._preroll: deque[bytes] = deque()
        self._preroll_bytes = 0
        self._preroll_max = 0
        self._utterance: Utterance | None = None
        self._last_utterance: Utterance | None = None
        # Utterances whose final result (or failure) has not arrived; the event is set at 0.
        self._pending = 0
        self._settled = asyncio.Event()
        self._settled.set()
        self._results: asyncio.Queue[_Result | None] = asyncio.Queue()
        self._results_task: asyncio.Task | None = None
        self._cmn: str | None = None
        #: Seconds of audio (at the input rate) handed to the decoder during this call.
        self.audio_seconds = 0.0

    def can_generate_metrics(self) -> bool:
        return True

    async def start(self, frame: StartFrame) -> None:
        await super().start(frame)
        self._preroll_max = int(self.sample_rate * self._preroll_secs) * 2
        # Starts the decoder processes once per server process (they load in the background).
        await asyncio.to_thread(self._workers.start)
        if self._vocabulary is not None:
            self._workers.prepare(self._vocabulary)
        if not self._results_task:
            self._results_task = self.create_task(self._push_results(), name="pocketsphinx")

    async def stop(self, frame: EndFrame) -> None:
        # A graceful end transcribes what the caller said last.
        await self._finish_utterance()
        try:
            await asyncio.wait_for(self._settled.wait(), timeout=5.0)
        except TimeoutError:
            logger.warning(f"{self}: last utterance still decoding at end of call")
        if self._results_task:
            # Let the task push everything queued before it, then end.
            self._results.put_nowait(None)
            await self._results_task
            self._results_task = None
        await super().stop(frame)

    async def cancel(self, frame: CancelFrame) -> None:
        self._cancel_utterance()
        await self._stop_results_task()
        await super().cancel(frame)

    async def cleanup(self) -> None:
        self._cancel_utterance()
        await self._stop_results_task()
        await super().cleanup()

    async def run_stt(self, audio: bytes) -> AsyncGenerator[Frame | None, None]:
        """Unused: audio is fed to the decoder process from :meth:`process_audio_frame`."""
        yield None

    # Audio path

    async def process_audio_frame(self, frame: InputAudioRawFrame, direction: FrameDirection):
        if self._muted or not self.is_usable or not frame.audio:
            return
        self._user_id = frame.user_id if isinstance(frame, UserAudioRawFrame) else ""
        if self._utterance is not None:
            await self._feed_audio(frame.audio)
            return
        # Not in an utterance: keep only the recent past for the next one.
        self._preroll.append(frame.audio)
        self._preroll_bytes += len(frame.audio)
        while self._preroll and self._preroll_bytes - len(self._preroll[0]) >= self._preroll_max:
            self._preroll_bytes -= len(self._preroll.popleft())

    async def process_frame(self, frame: Frame, direction: FrameDirection):
        await super().process_frame(frame, direction)
        if isinstance(frame, VADUserStartedSpeakingFrame):
            await self._begin_utterance()
        elif isinstance(frame, VADUserStoppedSpeakingFrame):
            await self._finish_utterance()

    async def _feed_audio(self, audio: bytes) -> None:
        self._record_stt_audio_usage(audio)
        self.audio_seconds += len(audio) / (self.sample_rate * 2)
        if self._utterance is not None:
            self._utterance.feed(audio)

    # Utterances

    async def _begin_utterance(self) -> None:
        if self._utterance is not None or not self.is_usable:
            return
        self._pending += 1
        self._settled.clear()
        self._utterance = self._workers.open_utterance(
            self._cmn,
            self._result_callback(),
            sample_rate=self.sample_rate,
            after=self._last_utterance,
            vocabulary=self._vocabulary,
        )
        self._last_utterance = self._utterance
        preroll = b"".join(self._preroll)
        self._preroll.clear()
        self._preroll_bytes = 0
        if preroll:
            await self._feed_audio(preroll)

    async def _finish_utterance(self) -> None:
        utterance, self._utterance = self._utterance, None
        if utterance is None:
            return
        utterance.finish()
        await self.emit_stt_usage_metrics()

    def _cancel_utterance(self) -> None:
        utterance, self._utterance = self._utterance, None
        if utterance is not None:
            utterance.cancel()
            self._utterance_settled()

    def _utterance_settled(self) -> None:
        self._pending = max(0, self._pending - 1)
        if self._pending == 0:
            self._settled.set()

    def _result_callback(self):
        """A callback for the worker's receiver thread that hands results to the loop."""
        loop = asyncio.get_running_loop()
        results = self._results

        def on_result(text: str, final: bool, cmn: str | None) -> None:
            if final and cmn:
                self._cmn = cmn
            if text:
                loop.call_soon_threadsafe(results.put_nowait, _Result(text, final))
            if final:
                loop.call_soon_threadsafe(self._utterance_settled)

        return on_result

    # Results

    async def _push_results(self) -> None:
        while (result := await self._results.get()) is not None:
            await self._push_result(result)

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


class TracedPocketSphinxSTTService(PocketSphinxSTTService):
    """The same engine with a pipecat "stt" span per utterance, for calls that are traced.

    A class of its own because pipecat's ``@traced_stt`` wraps the class's ``push_frame``:
    untraced calls keep the plain class and pay nothing per frame.
    """

    @traced_stt
    async def run_stt(self, audio: bytes) -> AsyncGenerator[Frame | None, None]:
        async for frame in super().run_stt(audio):
            yield frame
