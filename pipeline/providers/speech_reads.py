"""How a streamed HTTP speech response is read: soon at its start, in steady pieces after.

OpenAI's ``audio/speech`` streams PCM while it synthesizes. pipecat's service reads it with
httpx in ``chunk_size`` pieces, half a second *at the pipeline's rate* (8,000 bytes, 167 ms
of OpenAI's 24 kHz audio, on a phone call; 24,000 bytes, 500 ms, on a browser call), and
httpx yields only full pieces; its soxr resampler at the "VHQ" preset then gives 8 kHz audio
out in blocks of 137.5 ms. So a sentence's first audio waited until 167-500 ms of speech
had arrived, and a provider streaming at real time left the caller gaps of up to ~240 ms
between pieces (BENCHMARKS.md step 19).

:func:`speech_reads` passes each network read on as it arrives for the first
``START_MS`` of a response (what the first carrier message needs, the resampler's delay
included), then in pieces of ``READ_MS``, so a long sentence is not hundreds of small
frames; :data:`RESAMPLE_QUALITY` is soxr's "HQ" preset (20-bit), which gives audio out every
~60 ms, beyond what a caller's 8-bit μ-law or Opus hears, at two thirds of VHQ's CPU.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator

RESAMPLE_QUALITY = "HQ"
#: Audio passed on read by read at the start of a response.
START_MS = 200
#: The piece size after that: one carrier media message (CarrierProvider.media_out_chunk_ms).
READ_MS = 100


async def speech_reads(chunks: AsyncIterable[bytes], sample_rate: int) -> AsyncIterator[bytes]:
    """``chunks`` (the response's reads, 16-bit mono PCM at ``sample_rate``) as they
    arrive for the first ``START_MS``, then ``READ_MS`` at a time; the rest at the end."""
    start = sample_rate * 2 * START_MS // 1000
    piece = sample_rate * 2 * READ_MS // 1000
    seen = 0
    buffer = bytearray()
    async for data in chunks:
        seen += len(data)
        buffer += data
        if seen <= start or len(buffer) >= piece:
            yield bytes(buffer)
            buffer.clear()
    if buffer:
        yield bytes(buffer)
