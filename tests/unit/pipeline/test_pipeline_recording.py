"""Call recording: the writer streams to disk and fixes the WAV header at close; the
recorder pairs the caller's audio with the agent's played audio; raw audio stops travelling
down the pipeline where it is recorded."""

from __future__ import annotations

import asyncio
import os
import stat
import wave

import numpy as np
from pipecat.frames.frames import InputAudioRawFrame, OutputAudioRawFrame, TextFrame
from pipecat.pipeline.worker import PipelineWorker

from pipeline.audio_ends import AgentAudioEnd, CallerAudioEnd
from pipeline.recording import CallRecorder, WavStreamWriter
from tests.pipeline_harness import Recorder, run_pipeline


async def test_chunks_reach_disk_before_close_and_header_is_fixed(tmp_path):
    path = tmp_path / "org" / "call.wav"
    writer = WavStreamWriter(path, sample_rate=16000, channels=2)
    writer.start()
    chunk = (b"\x01\x00\xff\x7f") * 16000  # 1 s of stereo 16-bit frames
    writer.write(chunk)
    async with asyncio.timeout(5):
        while not path.exists() or path.stat().st_size < 44 + len(chunk):  # noqa: ASYNC110
            await asyncio.sleep(0.01)
    # Mid-call the file already holds the audio, with a placeholder (0) data size.
    assert path.read_bytes()[40:44] == b"\x00\x00\x00\x00"
    writer.write(chunk)
    await asyncio.to_thread(writer.close)
    with wave.open(str(path)) as wav:
        assert (wav.getnchannels(), wav.getframerate(), wav.getsampwidth()) == (2, 16000, 2)
        assert wav.getnframes() == 32000
        assert wav.readframes(1) == b"\x01\x00\xff\x7f"
    writer.write(chunk)  # after close: ignored, never raises


async def test_recordings_are_readable_by_the_server_user_only(tmp_path):
    """Low finding: recordings were written with the default umask (world-readable)."""
    old = os.umask(0o022)
    try:
        path = tmp_path / "org" / "call.wav"
        writer = WavStreamWriter(path, sample_rate=8000, channels=2)
        writer.start()
        writer.write(b"\x00\x00" * 800)
        await asyncio.to_thread(writer.close)
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def _tone(samples: int, value: int) -> bytes:
    return np.full(samples, value, dtype=np.int16).tobytes()


async def test_recorder_pairs_played_agent_audio_with_the_caller_clock(tmp_path):
    path = tmp_path / "call.wav"
    rec = CallRecorder(path, sample_rate=8000)
    rec.caller(_tone(160, 100))  # 20 ms, agent quiet: right channel is silence
    await rec.agent(_tone(240, 7), 8000)  # 30 ms played
    rec.caller(_tone(160, 200))  # pairs with the first 20 ms of it
    rec.caller(_tone(160, 300))  # 10 ms of agent left, then silence
    await rec.agent(_tone(80, 9), 8000)  # played after the caller's stream ended
    await asyncio.to_thread(rec.close)
    with wave.open(str(path)) as wav:
        assert (wav.getnchannels(), wav.getframerate()) == (2, 8000)
        frames = np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16).reshape(-1, 2)
    left, right = frames[:, 0], frames[:, 1]
    assert len(frames) == 480 + 80  # the caller's 60 ms, then the agent's tail
    assert (left[:160] == 100).all() and (right[:160] == 0).all()
    assert (left[160:320] == 200).all() and (right[160:320] == 7).all()
    assert (right[320:400] == 7).all() and (right[400:480] == 0).all()
    assert (left[480:] == 0).all() and (right[480:] == 9).all()


async def test_recorder_resamples_agent_audio_to_the_caller_rate(tmp_path):
    path = tmp_path / "call.wav"
    rec = CallRecorder(path, sample_rate=16000)
    t = np.arange(24000) / 24000
    await rec.agent((np.sin(2 * np.pi * 440 * t) * 8000).astype(np.int16).tobytes(), 24000)
    for _ in range(50):
        rec.caller(bytes(640))  # 1 s of caller silence in 20 ms frames
    await asyncio.to_thread(rec.close)
    with wave.open(str(path)) as wav:
        frames = np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16).reshape(-1, 2)
    right = frames[:, 1].astype(np.float32)
    assert 15000 <= len(frames) <= 16100  # ~1 s at 16 kHz (the resampler keeps a short tail)
    spectrum = np.abs(np.fft.rfft(right[2000:14000]))
    peak_hz = np.argmax(spectrum) * 16000 / 12000
    assert abs(peak_hz - 440) < 5  # the same tone, now at 16 kHz


async def test_audio_ends_record_and_stop_raw_audio_but_pass_everything_else(tmp_path):
    rec = CallRecorder(tmp_path / "call.wav", sample_rate=16000)
    seen = Recorder()
    text = TextFrame("hello")

    async def drive(worker: PipelineWorker) -> None:
        await worker.queue_frames(
            [
                InputAudioRawFrame(audio=_tone(320, 5), sample_rate=16000, num_channels=1),
                text,
                OutputAudioRawFrame(audio=_tone(320, 6), sample_rate=16000, num_channels=1),
            ]
        )
        await seen.wait_for(lambda: text in seen.frames)

    await run_pipeline([CallerAudioEnd(rec), AgentAudioEnd(rec), seen], drive)
    await asyncio.to_thread(rec.close)
    assert not [f for f in seen.frames if isinstance(f, (InputAudioRawFrame, OutputAudioRawFrame))]
    with wave.open(str(rec.path)) as wav:
        frames = np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16).reshape(-1, 2)
    assert (frames[:320, 0] == 5).all()  # the caller's frame, left
    assert (frames[:, 1] == 6).sum() == 320  # the agent's frame, right (against silence)
