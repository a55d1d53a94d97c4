"""``speech_reads``: a streamed speech response read by read at its start, then in steady
pieces (BENCHMARKS.md step 19)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from pipeline.providers.speech_reads import READ_MS, START_MS, speech_reads

RATE = 24000
MS = RATE * 2 // 1000  # bytes per millisecond


async def _reads(sizes: list[int]) -> AsyncIterator[bytes]:
    for i, n in enumerate(sizes):
        yield bytes([i % 256]) * n


async def _collect(sizes: list[int]) -> list[bytes]:
    return [piece async for piece in speech_reads(_reads(sizes), RATE)]


async def test_the_start_moves_on_read_by_read_then_in_pieces() -> None:
    sizes = [20 * MS] * 50  # a second of speech, 20 ms per network read
    out = await _collect(sizes)
    start = START_MS // 20
    assert [len(p) for p in out[:start]] == [20 * MS] * start  # each read as it came
    assert all(len(p) == READ_MS * MS for p in out[start:-1])  # then whole pieces
    assert b"".join(out) == b"".join(bytes([i % 256]) * n for i, n in enumerate(sizes))


async def test_a_large_read_is_not_held_and_the_tail_is_flushed() -> None:
    out = await _collect([300 * MS, 30 * MS, 30 * MS])
    assert [len(p) for p in out] == [300 * MS, 60 * MS]  # nothing waits for a full piece
    out = await _collect([10 * MS, 3])  # an odd tail: passed on as it came
    assert sum(map(len, out)) == 10 * MS + 3


async def test_an_empty_response_yields_nothing() -> None:
    assert await _collect([]) == []
