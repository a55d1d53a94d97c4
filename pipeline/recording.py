"""Call recording: both sides as a stereo WAV (left = caller, right = agent), streamed to disk.

pipecat's ``AudioBufferProcessor`` (placed after the output transport) aligns the caller's
and the agent's audio and hands us interleaved stereo PCM every ``CHUNK_SECONDS``. We only
append that chunk to a queue; a writer thread does the file I/O, so nothing on the audio
path touches the disk and the call is never held in memory. The WAV header is written with
placeholder sizes when the file opens and fixed when the recording closes; a file from a
crashed process is still readable up to the last chunk by tools that ignore the sizes.
"""

from __future__ import annotations

import queue
import struct
import threading
from pathlib import Path

from loguru import logger
from pipecat.processors.audio.audio_buffer_processor import AudioBufferProcessor

CHUNK_SECONDS = 1.0
RECORDING_SAMPLE_RATE = 16000
CHANNELS = 2
SAMPLE_WIDTH = 2

_STOP = object()


def wav_header(data_bytes: int, sample_rate: int, channels: int, sample_width: int = 2) -> bytes:
    """A canonical 44-byte PCM WAV header."""
    byte_rate = sample_rate * channels * sample_width
    return struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        b"RIFF",
        36 + data_bytes,
        b"WAVE",
        b"fmt ",
        16,
        1,
        channels,
        sample_rate,
        byte_rate,
        channels * sample_width,
        sample_width * 8,
        b"data",
        data_bytes,
    )


class WavStreamWriter:
    """Appends PCM chunks to a WAV file from a background thread."""

    def __init__(self, path: Path, *, sample_rate: int, channels: int):
        self.path = path
        self.sample_rate = sample_rate
        self.channels = channels
        self.bytes_written = 0
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name=f"wav:{path.name}", daemon=True)
        self._started = False
        self._closed = False

    def start(self) -> None:
        self._started = True
        self._thread.start()

    def write(self, pcm: bytes) -> None:
        """Queue a chunk (never blocks, never does I/O)."""
        if pcm and not self._closed:
            self._queue.put(pcm)

    def close(self) -> None:
        """Flush queued chunks, fix the header and wait for the writer (call off the loop)."""
        if self._closed:
            return
        self._closed = True
        if self._started:
            self._queue.put(_STOP)
            self._thread.join()

    def _run(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with self.path.open("wb") as fh:
                fh.write(wav_header(0, self.sample_rate, self.channels))
                while True:
                    item = self._queue.get()
                    if item is _STOP:
                        break
                    assert isinstance(item, bytes)
                    fh.write(item)
                    self.bytes_written += len(item)
                fh.seek(0)
                fh.write(wav_header(self.bytes_written, self.sample_rate, self.channels))
        except OSError:
            logger.exception(f"recording to {self.path} failed")


class CallRecorder:
    """The recording processor for a call plus the writer behind it."""

    def __init__(self, path: Path, *, sample_rate: int = RECORDING_SAMPLE_RATE):
        frame_bytes = int(sample_rate * CHUNK_SECONDS) * SAMPLE_WIDTH
        self.writer = WavStreamWriter(path, sample_rate=sample_rate, channels=CHANNELS)
        self.processor = AudioBufferProcessor(
            sample_rate=sample_rate,
            num_channels=CHANNELS,
            buffer_size=frame_bytes,
            auto_start_recording=True,
            name="recorder",
        )
        self.processor.add_event_handler("on_audio_data", self._on_audio_data)
        self.writer.start()

    async def _on_audio_data(self, _processor, audio: bytes, _rate: int, _channels: int) -> None:
        self.writer.write(audio)

    @property
    def path(self) -> Path:
        return self.writer.path

    def close(self) -> None:
        self.writer.close()
