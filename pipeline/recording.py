"""Call recording: both sides as a stereo WAV (left = caller, right = agent), streamed to disk.

The recording is made at the caller's wire rate (8 kHz on a phone call, 16 kHz from a
browser), so telephony calls resample nothing for it. The pipeline hands us the caller's
audio where it stops travelling (``pipeline.audio_ends.CallerAudioEnd``) and the agent's
audio as the output transport plays it (``AgentAudioEnd``). The caller's stream is
continuous, so it is the clock: each caller chunk is interleaved with the same amount of
the agent's played audio, or silence when the agent is quiet. Whole seconds of stereo PCM
go to a queue; a writer thread does the file I/O, so nothing on the audio path touches the
disk and the call is never held in memory. The WAV header is written with placeholder sizes
when the file opens and fixed when the recording closes; a file from a crashed process is
still readable up to the last chunk by tools that ignore the sizes.
"""

from __future__ import annotations

import os
import queue
import struct
import threading
from pathlib import Path

import numpy as np
from loguru import logger
from pipecat.audio.resamplers.base_audio_resampler import BaseAudioResampler
from pipecat.audio.utils import create_stream_resampler

CHUNK_SECONDS = 1.0
CHANNELS = 2
SAMPLE_WIDTH = 2

_STOP = object()
# Agent audio played while no caller audio arrives (a stalled stream) is kept at most this long.
MAX_PENDING_AGENT_SECONDS = 30.0


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
        # Recordings are personal data: only the server's user may read them, whatever the
        # process umask (a new folder 0700, the file 0600).
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.fchmod(fd, 0o600)  # an existing file keeps its mode through O_CREAT
            with os.fdopen(fd, "wb") as fh:
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
    """Pairs the two sides of a call on the caller's clock and streams them as stereo.

    Per 20 ms frame this only appends bytes: the caller's audio to the left buffer and the
    same amount of played agent audio (or silence) to the right one. Once a second of audio
    is buffered, the two are interleaved in one numpy pass and handed to the writer thread.
    """

    def __init__(self, path: Path, *, sample_rate: int):
        self.sample_rate = sample_rate
        self.writer = WavStreamWriter(path, sample_rate=sample_rate, channels=CHANNELS)
        self._flush_bytes = int(sample_rate * CHUNK_SECONDS) * SAMPLE_WIDTH  # per channel
        self._max_pending = int(sample_rate * MAX_PENDING_AGENT_SECONDS) * SAMPLE_WIDTH
        self._left = bytearray()  # caller
        self._right = bytearray()  # agent, aligned with ``_left``
        self._agent = bytearray()  # played agent audio not yet paired with caller audio
        self._resampler: BaseAudioResampler | None = None
        self.writer.start()

    @property
    def path(self) -> Path:
        return self.writer.path

    def caller(self, pcm: bytes) -> None:
        """Caller audio (mono s16le at ``sample_rate``), in arrival order."""
        n = len(pcm) - len(pcm) % SAMPLE_WIDTH
        self._left += pcm[:n] if n != len(pcm) else pcm
        if self._agent:
            take = min(n, len(self._agent))
            self._right += self._agent[:take]
            del self._agent[:take]
            n -= take
        if n:
            self._right += bytes(n)
        if len(self._left) >= self._flush_bytes:
            self._flush()

    async def agent(self, pcm: bytes, sample_rate: int) -> None:
        """Agent audio as it is played to the caller (mono s16le at ``sample_rate``, which is
        resampled to the recording's rate when it differs: 24 kHz TTS on a 16 kHz browser call)."""
        if sample_rate != self.sample_rate:
            if self._resampler is None:
                self._resampler = create_stream_resampler()
            pcm = await self._resampler.resample(pcm, sample_rate, self.sample_rate)
        if len(self._agent) + len(pcm) <= self._max_pending:
            self._agent += pcm

    def _flush(self) -> None:
        if not self._left:
            return
        stereo = np.empty(len(self._left), dtype=np.int16)  # 2 channels x len/2 samples
        stereo[0::2] = np.frombuffer(self._left, dtype=np.int16)
        stereo[1::2] = np.frombuffer(self._right, dtype=np.int16)
        self.writer.write(stereo.tobytes())
        self._left.clear()
        self._right.clear()

    def close(self) -> None:
        """Write what is buffered (agent audio past the caller's end against silence), close."""
        if self._agent:
            self._left += bytes(len(self._agent) - len(self._agent) % SAMPLE_WIDTH)
            self._right += self._agent[: len(self._left) - len(self._right)]
            self._agent.clear()
        self._flush()
        self.writer.close()
