"""The offline text-to-speech engine: espeak-ng synthesis and EspeakTTSService."""

from __future__ import annotations

import asyncio
import threading

import pytest
from pipecat.frames.frames import (
    InterruptionFrame,
    TTSAudioRawFrame,
    TTSSpeakFrame,
    TTSStartedFrame,
    TTSStoppedFrame,
)
from pipecat.metrics.metrics import (
    TTFBMetricsData,
    TTSUsageMetricsData,
)
from pipecat.pipeline.worker import PipelineWorker

from loadgen.audio import duration, rms
from pipeline.engines import espeak
from pipeline.engines.espeak_tts import EspeakTTSService
from tests.pipeline_harness import LONG_TEXT, Recorder, metrics_of, run_pipeline

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
