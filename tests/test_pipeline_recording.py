"""The recording writer streams to disk as chunks arrive and fixes the WAV header at close."""

from __future__ import annotations

import asyncio
import wave

from pipeline.recording import WavStreamWriter


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
