"""Offline speech engines: espeak-ng synthesis, EspeakTTSService, PocketSphinx STT."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
from collections.abc import Awaitable, Callable

import numpy as np
import pytest
from pipecat.frames.frames import (
    EndFrame,
    Frame,
    InputAudioRawFrame,
    InterimTranscriptionFrame,
    InterruptionFrame,
    MetricsFrame,
    TranscriptionFrame,
    TTSAudioRawFrame,
    TTSSpeakFrame,
    TTSStartedFrame,
    TTSStoppedFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.metrics.metrics import (
    STTUsageMetricsData,
    TTFBMetricsData,
    TTSUsageMetricsData,
)
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.workers.runner import WorkerRunner

from loadgen.audio import duration, frames, pcm_to_ulaw, rms, silence_pcm, ulaw_to_pcm
from loadgen.speech import speech_pcm
from pipeline.engines import espeak
from pipeline.engines.espeak_tts import EspeakTTSService
from pipeline.engines.pocketsphinx_stt import PocketSphinxSTTService
from pipeline.engines.sphinx_decoders import DecoderPool, shared_pool
from pipeline.engines.sphinx_frontend import NARROWBAND_NOISE_RMS, Frontend
from pipeline.engines.sphinx_workers import SphinxWorkers

LONG_TEXT = " ".join(
    f"This is sentence number {n} of a long announcement that keeps going." for n in range(40)
)


class Recorder(FrameProcessor):
    """End of a test pipeline: records what reaches it, optionally playing audio at a pace.

    With ``play_speed`` set, each audio frame takes its duration / play_speed to "play",
    like an output transport, so an interruption can land in the middle of an utterance.
    """

    def __init__(self, play_speed: float | None = None) -> None:
        super().__init__()
        self.frames: list[Frame] = []
        self.played_seconds = 0.0
        self._play_speed = play_speed
        self._changed = asyncio.Event()

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if direction == FrameDirection.DOWNSTREAM:
            if isinstance(frame, TTSAudioRawFrame):
                seconds = len(frame.audio) / 2 / frame.sample_rate
                if self._play_speed:
                    await asyncio.sleep(seconds / self._play_speed)
                self.played_seconds += seconds
            self.frames.append(frame)
            self._changed.set()
        await self.push_frame(frame, direction)

    def of(self, kind: type[Frame]) -> list[Frame]:
        return [f for f in self.frames if isinstance(f, kind)]

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 20.0) -> None:
        async def poll() -> None:
            while not predicate():
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(poll(), timeout)


async def run_pipeline(
    processors: list[FrameProcessor],
    drive: Callable[[PipelineWorker], Awaitable[None]],
    *,
    in_rate: int = 16000,
    out_rate: int = 16000,
    worker_cls: type[PipelineWorker] = PipelineWorker,
    observers: list | None = None,
) -> None:
    """Run a real pipecat pipeline, call ``drive`` once it started, then end it gracefully."""
    worker = worker_cls(
        Pipeline(processors),
        params=PipelineParams(
            audio_in_sample_rate=in_rate,
            audio_out_sample_rate=out_rate,
            enable_metrics=True,
            enable_usage_metrics=True,
        ),
        cancel_on_idle_timeout=False,
        idle_timeout_secs=None,
        observers=observers,
    )
    started = asyncio.Event()

    @worker.event_handler("on_pipeline_started")
    async def _started(_worker, _frame):
        started.set()

    async def driver() -> None:
        await asyncio.wait_for(started.wait(), 10)
        try:
            await drive(worker)
        finally:
            await worker.queue_frame(EndFrame())

    runner = WorkerRunner(handle_sigint=False)
    await runner.add_workers(worker)
    await asyncio.wait_for(asyncio.gather(runner.run(), driver()), 60)


def metrics_of(recorder: Recorder, kind: type) -> list:
    return [d for f in recorder.of(MetricsFrame) for d in f.data if isinstance(d, kind)]


# espeak-ng


def test_espeak_sentence_has_plausible_length_and_level():
    text = "Thank you for calling, how can I help you with your booking today?"
    words = len(text.split())
    pcm, rate = espeak.synthesize(text, rate_wpm=175)
    assert rate == 22050
    seconds = duration(pcm, rate)
    # 175 wpm is ~4.3 s for 13 words; allow a broad band for pauses and phrasing.
    assert words / 320 * 60 < seconds < words / 90 * 60
    assert rms(pcm) > 500
    slower, _ = espeak.synthesize(text, rate_wpm=120)
    assert duration(slower, rate) > seconds * 1.2


def test_espeak_stream_delivers_chunks_and_stops_when_told():
    chunks: list[bytes] = []
    espeak.synthesize_stream(LONG_TEXT, chunks.append)
    assert len(chunks) > 10
    # espeak's output varies by a few samples from run to run (it carries DSP state).
    whole, rate = espeak.synthesize(LONG_TEXT)
    assert duration(b"".join(chunks), rate) == pytest.approx(duration(whole, rate), rel=0.01)

    taken: list[bytes] = []

    def take_three(chunk: bytes) -> bool:
        taken.append(chunk)
        return len(taken) < 3

    espeak.synthesize_stream(LONG_TEXT, take_three)
    assert len(taken) == 3


def test_espeak_voice_selection_and_unknown_voice():
    gb, _ = espeak.synthesize("Tomato", voice="en-gb")
    us, _ = espeak.synthesize("Tomato", voice="en-us")
    assert gb and us and gb != us
    with pytest.raises(espeak.EspeakError):
        espeak.synthesize("hello", voice="xx-nonexistent")
    assert espeak.has_voice("en-us+f2") and not espeak.has_voice("xx-nonexistent")


def test_espeak_is_safe_from_many_threads():
    expected, rate = espeak.synthesize("Concurrent speech works.")
    results: list[bytes] = []

    def speak() -> None:
        results.append(espeak.synthesize("Concurrent speech works.")[0])

    threads = [threading.Thread(target=speak) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 6
    for pcm in results:
        assert duration(pcm, rate) == pytest.approx(duration(expected, rate), rel=0.01)
        assert rms(pcm) > 500


# Test speech helpers


def test_speech_helpers_rates_framing_and_ulaw():
    pcm8 = speech_pcm("hello there", 8000)
    pcm16 = speech_pcm("hello there", 16000)
    assert abs(duration(pcm8, 8000) - duration(pcm16, 16000)) < 0.01
    assert speech_pcm("hello there", 8000) is pcm8  # cached
    assert silence_pcm(0.5, 8000) == bytes(8000)
    chunks = frames(pcm8, 8000)
    assert all(len(c) == 320 for c in chunks)
    assert b"".join(chunks)[: len(pcm8)] == pcm8
    assert frames(pcm_to_ulaw(pcm8), 8000, sample_width=1)[0] == pcm_to_ulaw(pcm8)[:160]
    # mu-law round trip keeps speech within G.711's quantisation error
    restored = np.frombuffer(ulaw_to_pcm(pcm_to_ulaw(pcm8)), dtype=np.int16).astype(float)
    original = np.frombuffer(pcm8, dtype=np.int16).astype(float)
    assert np.abs(restored - original).max() <= np.abs(original).max() / 16 + 8


def test_ulaw_is_bit_exact_with_audioop():
    audioop = pytest.importorskip("audioop")  # gone in Python 3.13; the helpers are not
    every_sample = np.arange(-32768, 32768, dtype=np.int16).tobytes()
    assert pcm_to_ulaw(every_sample) == audioop.lin2ulaw(every_sample, 2)
    assert ulaw_to_pcm(bytes(range(256))) == audioop.ulaw2lin(bytes(range(256)), 2)


# EspeakTTSService


@pytest.mark.parametrize("out_rate", [8000, 24000])
async def test_tts_service_streams_audio_at_the_pipeline_rate(out_rate: int):
    text = "Hello, thanks for calling. How can I help?"
    tts = EspeakTTSService(voice="en-us")
    recorder = Recorder()

    async def drive(worker: PipelineWorker) -> None:
        await worker.queue_frame(TTSSpeakFrame(text))
        await recorder.wait_for(lambda: recorder.of(TTSStoppedFrame))

    await run_pipeline([tts, recorder], drive, out_rate=out_rate)

    kinds = [type(f) for f in recorder.frames if isinstance(f, (TTSStartedFrame, TTSStoppedFrame))]
    assert kinds == [TTSStartedFrame, TTSStoppedFrame]
    audio = recorder.of(TTSAudioRawFrame)
    assert len(audio) > 5  # streamed in chunks, not one blob
    assert {f.sample_rate for f in audio} == {out_rate}
    assert {f.num_channels for f in audio} == {1}
    started = recorder.frames.index(recorder.of(TTSStartedFrame)[0])
    stopped = recorder.frames.index(recorder.of(TTSStoppedFrame)[0])
    assert all(started < recorder.frames.index(f) < stopped for f in audio)
    pcm = b"".join(f.audio for f in audio)
    native, native_rate = espeak.synthesize(text)
    assert abs(duration(pcm, out_rate) - duration(native, native_rate)) < 0.05
    assert rms(pcm) > 500
    usage = metrics_of(recorder, TTSUsageMetricsData)
    assert [u.value for u in usage] == [len(text)]
    assert any(m.value > 0 for m in metrics_of(recorder, TTFBMetricsData))


async def test_tts_with_an_unknown_voice_still_speaks():
    tts = EspeakTTSService(voice="aura-asteria-en")
    recorder = Recorder()

    async def drive(worker: PipelineWorker) -> None:
        await worker.queue_frame(TTSSpeakFrame("Still speaking."))
        await recorder.wait_for(lambda: recorder.of(TTSStoppedFrame))

    await run_pipeline([tts, recorder], drive, out_rate=8000)
    assert rms(b"".join(f.audio for f in recorder.of(TTSAudioRawFrame))) > 500


async def test_tts_interruption_stops_audio_and_service_recovers():
    tts = EspeakTTSService()
    recorder = Recorder(play_speed=20.0)
    full_seconds = duration(*espeak.synthesize(LONG_TEXT))
    at_interruption: dict[str, float] = {}

    async def drive(worker: PipelineWorker) -> None:
        await worker.queue_frame(TTSSpeakFrame(LONG_TEXT))
        await recorder.wait_for(lambda: recorder.played_seconds > 2.0)
        await worker.queue_frame(InterruptionFrame())
        await recorder.wait_for(lambda: recorder.of(InterruptionFrame))
        at_interruption["played"] = recorder.played_seconds
        at_interruption["frames"] = len(recorder.frames)
        await asyncio.sleep(0.5)
        at_interruption["later"] = recorder.played_seconds
        await worker.queue_frame(TTSSpeakFrame("Goodbye."))
        await recorder.wait_for(lambda: recorder.of(TTSStoppedFrame))

    await run_pipeline([tts, recorder], drive, out_rate=8000)

    assert at_interruption["played"] < full_seconds / 2
    # Nothing of the interrupted sentence plays after the interruption...
    assert at_interruption["later"] == at_interruption["played"]
    # ...and the next sentence is spoken in full.
    after = recorder.frames[at_interruption["frames"] :]
    spoken = b"".join(f.audio for f in after if isinstance(f, TTSAudioRawFrame))
    goodbye, rate = espeak.synthesize("Goodbye.")
    assert abs(duration(spoken, 8000) - duration(goodbye, rate)) < 0.05
    assert [type(f) for f in after if isinstance(f, (TTSStartedFrame, TTSStoppedFrame))] == [
        TTSStartedFrame,
        TTSStoppedFrame,
    ]


# PocketSphinx


def decode(pcm16k: bytes) -> str:
    """Decode 16 kHz PCM with a pooled decoder, as the service's worker thread does."""
    decoder = shared_pool.acquire()
    try:
        decoder.set_cmn(shared_pool.initial_cmn)
        decoder.start_utt()
        for chunk in frames(pcm16k, 16000):
            decoder.process_raw(chunk, False, False)
        decoder.end_utt()
        hyp = decoder.hyp()
        return hyp.hypstr if hyp else ""
    finally:
        shared_pool.release(decoder)


@pytest.mark.parametrize(
    ("text", "expected_words"),
    # espeak's robotic "hello" alone often comes back as "oh": any words will do there, and
    # its "book a table" is usually heard as "look at table"/"look at any old".
    [("hello", set()), ("I would like to book a table", {"would", "like", "book", "table"})],
)
def test_pocketsphinx_recognises_synthesized_speech(text: str, expected_words: set[str]):
    audio = silence_pcm(0.3, 16000) + speech_pcm(text, 16000) + silence_pcm(0.5, 16000)
    heard = decode(audio)
    assert heard.strip()
    assert not expected_words or len(expected_words & set(heard.split())) >= 2


def test_pocketsphinx_hears_nothing_in_silence():
    assert decode(silence_pcm(1.5, 16000)) == ""


def test_decoder_pool_reuses_decoders():
    pool = DecoderPool(max_idle=1)
    first = pool.acquire()
    pool.release(first)
    assert pool.acquire() is first
    second = pool.acquire()
    assert second is not first
    pool.release(first)
    pool.release(second)  # pool full: dropped
    stats = pool.stats()
    assert (stats.created, stats.idle, stats.in_use) == (2, 1, 0)


def test_frontend_upsamples_phone_audio_and_fills_only_the_empty_band():
    wideband = speech_pcm("hello", 16000)
    assert Frontend(16000).process(wideband) == wideband

    frontend = Frontend(8000)
    out = b"".join(frontend.process(chunk) for chunk in frames(silence_pcm(1.0, 8000), 8000))
    out += frontend.process(b"", last=True)
    samples = np.frombuffer(out, dtype=np.int16).astype(np.float64)
    assert abs(samples.size - 16000) <= 32
    power = np.abs(np.fft.rfft(samples)) ** 2
    freqs = np.fft.rfftfreq(samples.size, 1 / 16000)
    assert power[freqs < 3800].sum() < 0.01 * power[freqs > 4200].sum()
    assert samples.std() == pytest.approx(NARROWBAND_NOISE_RMS, rel=0.2)


async def feed_utterances(
    worker: PipelineWorker, utterances: list[bytes], rate: int, *, with_vad: bool = True
) -> None:
    """Send audio as a transport would (20 ms frames), with VAD frames around speech."""
    for pcm in utterances:
        for chunk in frames(silence_pcm(0.4, rate), rate):
            await worker.queue_frame(InputAudioRawFrame(chunk, rate, 1))
        speech = frames(pcm, rate)
        for i, chunk in enumerate(speech):
            await worker.queue_frame(InputAudioRawFrame(chunk, rate, 1))
            if with_vad and i == 10:  # a VAD fires ~0.2 s into speech
                await worker.queue_frame(VADUserStartedSpeakingFrame())
            await asyncio.sleep(0)
        for chunk in frames(silence_pcm(0.3, rate), rate):
            await worker.queue_frame(InputAudioRawFrame(chunk, rate, 1))
        if with_vad:
            await worker.queue_frame(VADUserStoppedSpeakingFrame(stop_secs=0.3))


@pytest.mark.parametrize("in_rate", [8000, 16000])
async def test_stt_service_emits_transcriptions_in_a_pipeline(in_rate: int):
    stt = PocketSphinxSTTService()
    recorder = Recorder()
    phrases = ["yes", "I would like to book a table"]

    async def drive(worker: PipelineWorker) -> None:
        await feed_utterances(worker, [speech_pcm(p, in_rate) for p in phrases], in_rate)
        await recorder.wait_for(lambda: len(recorder.of(TranscriptionFrame)) == 2)

    await run_pipeline([stt, recorder], drive, in_rate=in_rate)

    finals = recorder.of(TranscriptionFrame)
    assert len(finals) == 2 and all(f.text.strip() for f in finals)
    assert all(f.finalized and f.timestamp and f.user_id == "" for f in finals)
    if in_rate == 16000:
        # The bundled model is wideband: 8 kHz phone audio (upsampled) is recognised far
        # less reliably, so at 8 kHz we only require that something was heard.
        assert {"yes", "yeah"} & set(finals[0].text.split())
        assert len({"would", "like", "book", "table"} & set(finals[1].text.split())) >= 2
    # Partial hypotheses came first, and each utterance's results arrive in speaking order.
    interims = recorder.of(InterimTranscriptionFrame)
    assert interims
    assert recorder.frames.index(interims[0]) < recorder.frames.index(finals[1])
    # Audio passes through for downstream processors (VAD, recording).
    assert len(recorder.of(InputAudioRawFrame)) > 100
    usage = metrics_of(recorder, STTUsageMetricsData)
    billed = sum(u.value.audio_seconds for u in usage)
    assert billed == pytest.approx(stt.audio_seconds)
    speech_seconds = sum(duration(speech_pcm(p, in_rate), in_rate) for p in phrases)
    assert speech_seconds < billed < speech_seconds + 2 * (1.0 + 0.3) + 0.1


async def test_stt_service_is_silent_for_silence_and_without_speech_events():
    stt = PocketSphinxSTTService()
    recorder = Recorder()

    async def drive(worker: PipelineWorker) -> None:
        # Silence between VAD events, then speech the VAD never reported.
        await worker.queue_frame(VADUserStartedSpeakingFrame())
        for chunk in frames(silence_pcm(1.0, 16000), 16000):
            await worker.queue_frame(InputAudioRawFrame(chunk, 16000, 1))
        await worker.queue_frame(VADUserStoppedSpeakingFrame(stop_secs=0.3))
        await feed_utterances(worker, [speech_pcm("hello", 16000)], 16000, with_vad=False)
        await asyncio.sleep(0.5)

    await run_pipeline([stt, recorder], drive)

    assert recorder.of(TranscriptionFrame) == []
    assert len(recorder.of(InputAudioRawFrame)) > 50


async def test_stt_service_survives_a_decoder_process_crash():
    workers = SphinxWorkers(processes=1)
    stt = PocketSphinxSTTService(workers=workers)
    recorder = Recorder()

    async def drive(worker: PipelineWorker) -> None:
        await feed_utterances(worker, [speech_pcm("yes please", 16000)], 16000)
        await recorder.wait_for(lambda: len(recorder.of(TranscriptionFrame)) == 1)
        (pid,) = workers.pids()
        os.kill(pid, signal.SIGKILL)
        await asyncio.to_thread(os.waitpid, pid, 0)
        await feed_utterances(worker, [speech_pcm("no thank you", 16000)], 16000)
        await recorder.wait_for(lambda: len(recorder.of(TranscriptionFrame)) == 2)
        assert workers.pids() and workers.pids() != [pid]

    try:
        await run_pipeline([stt, recorder], drive)
    finally:
        await asyncio.to_thread(workers.close)

    assert all(f.text.strip() for f in recorder.of(TranscriptionFrame))


async def test_concurrent_calls_each_get_their_own_transcripts():
    phrases = {"a": "yes please", "b": "I would like to book a table"}
    recorders = {key: Recorder() for key in phrases}

    async def call(key: str) -> None:
        recorder = recorders[key]

        async def drive(worker: PipelineWorker) -> None:
            audio = speech_pcm(phrases[key], 16000)
            await feed_utterances(worker, [audio, audio], 16000)
            await recorder.wait_for(lambda: len(recorder.of(TranscriptionFrame)) == 2)

        await run_pipeline([PocketSphinxSTTService(), recorder], drive)

    await asyncio.gather(call("a"), call("b"))

    heard_a = " ".join(f.text for f in recorders["a"].of(TranscriptionFrame)).split()
    heard_b = " ".join(f.text for f in recorders["b"].of(TranscriptionFrame)).split()
    assert "yes" in heard_a and "table" not in heard_a
    assert {"would", "like"} <= set(heard_b) and "yes" not in heard_b
