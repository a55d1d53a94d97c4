"""The call record writer: records queued from the loop are written in batches (one store
write per batch, not per record), a failing batch is retried, and a batch that keeps
failing is given up without stopping the writer."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from pipeline.events import CallEvent, TurnRecord, UsageRecord
from server.calls.records import USAGE_DELAY_SECONDS, WRITE_ATTEMPTS, CallRecordWriter, EventRow


class MemoryStore:
    """A store that keeps batches, failing the next ``fail`` writes."""

    def __init__(self, fail: int = 0) -> None:
        self.fail = fail
        self.attempts = 0
        self.batches: list[tuple[list[dict[str, Any]], list[EventRow], list[UsageRecord]]] = []

    async def write(self, turns: Sequence[dict[str, Any]], events: Sequence[EventRow],
                    usage: Sequence[UsageRecord]) -> None:  # fmt: skip
        self.attempts += 1
        if self.fail:
            self.fail -= 1
            raise ConnectionError("database unavailable")
        self.batches.append((list(turns), list(events), list(usage)))


def _turn(i: int) -> TurnRecord:
    now = datetime.now(UTC)
    return TurnRecord(index=i, speaker="user", text=f"turn {i}", started_at=now, ended_at=now)


def _writer(store: MemoryStore, usage_delay_seconds: float = USAGE_DELAY_SECONDS) -> CallRecordWriter:
    return CallRecordWriter(store, uuid.uuid4(), billable_provider="webrtc", retry_seconds=0.0,
                            usage_delay_seconds=usage_delay_seconds)  # fmt: skip


async def test_records_queued_together_are_one_batch() -> None:
    store = MemoryStore()
    writer = _writer(store)
    writer.start()
    for i in range(5):  # queued without yielding: the writer sees them all at once
        writer.turn(_turn(i))
    writer.event(CallEvent(kind="dtmf", at=datetime.now(UTC), data={"digits": "5"}))
    writer.usage([UsageRecord("tts_characters", "espeak", None, 42.0)])
    await writer.close(billable_seconds=3.5)
    turns = [t["idx"] for batch in store.batches for t in batch[0]]
    assert turns == [0, 1, 2, 3, 4]
    assert len(store.batches[0][0]) == 5 and [e[0] for e in store.batches[0][1]] == ["dtmf"]
    usage = {(u.kind, u.quantity) for batch in store.batches for u in batch[2]}
    assert usage == {("tts_characters", 42.0), ("call_seconds", 3.5)}
    assert writer.turns_written == 5 and writer.batches_lost == 0


async def test_later_records_form_later_batches() -> None:
    store = MemoryStore()
    writer = _writer(store)
    writer.start()
    writer.turn(_turn(0))
    while not store.batches:
        await asyncio.sleep(0)
    writer.turn(_turn(1))
    await writer.close()
    assert [[t["idx"] for t in batch[0]] for batch in store.batches] == [[0], [1]]


async def test_a_failing_batch_is_retried_then_written() -> None:
    store = MemoryStore(fail=WRITE_ATTEMPTS - 1)
    writer = _writer(store)
    writer.start()
    writer.turn(_turn(0))
    await writer.close()
    assert store.attempts == WRITE_ATTEMPTS
    assert [t["idx"] for t in store.batches[0][0]] == [0]
    assert writer.turns_written == 1 and writer.batches_lost == 0


async def test_a_batch_that_keeps_failing_is_given_up_and_the_writer_goes_on() -> None:
    store = MemoryStore(fail=WRITE_ATTEMPTS)
    writer = _writer(store)
    writer.start()
    writer.turn(_turn(0))
    while store.attempts < WRITE_ATTEMPTS:
        await asyncio.sleep(0)
    await asyncio.sleep(0)
    writer.turn(_turn(1))
    await writer.close()
    assert writer.batches_lost == 1
    assert [t["idx"] for batch in store.batches for t in batch[0]] == [1]
    assert writer.turns_written == 1


async def test_an_idle_writer_writes_nothing() -> None:
    store = MemoryStore()
    writer = _writer(store)
    writer.start()
    await writer.close()
    assert store.attempts == 0


class SlowStore(MemoryStore):
    """Each write takes a while (a busy database)."""

    async def write(self, turns, events, usage) -> None:  # type: ignore[override]
        await asyncio.sleep(0.05)
        await super().write(turns, events, usage)


async def test_flush_returns_once_everything_queued_is_written() -> None:
    """The session flushes before it finalizes the call: a client that sees the call ended
    (the console's call page) must see its last turns too."""
    store = SlowStore()
    writer = _writer(store)
    writer.start()
    writer.turn(_turn(0))
    await asyncio.sleep(0)  # the writer takes the first turn into a batch
    writer.turn(_turn(1))
    writer.turn(_turn(2))
    await writer.flush()
    assert [t["idx"] for batch in store.batches for t in batch[0]] == [0, 1, 2]
    writer.turn(_turn(3))  # still open after a flush
    await writer.close()
    assert writer.turns_written == 4


async def test_flush_returns_when_a_batch_is_given_up() -> None:
    store = MemoryStore(fail=WRITE_ATTEMPTS)
    writer = _writer(store)
    writer.start()
    writer.turn(_turn(0))
    await asyncio.wait_for(writer.flush(), timeout=5)
    assert writer.batches_lost == 1
    await writer.close()


def _usage(quantity: float) -> list[UsageRecord]:
    return [UsageRecord("tts_characters", "espeak", None, quantity)]


async def _written(store: MemoryStore, batches: int) -> None:
    async with asyncio.timeout(10):
        while len(store.batches) < batches:
            await asyncio.sleep(0.01)


async def test_usage_changes_alone_are_one_write_of_the_latest_totals_after_the_delay() -> None:
    """Each TTS sentence and STT segment changes the usage totals; a change with nothing
    else to write waits ``usage_delay_seconds`` so the changes of a turn are one write."""
    store = MemoryStore()
    writer = _writer(store, usage_delay_seconds=0.2)
    writer.start()
    for n in range(1, 11):
        writer.usage(_usage(10.0 * n))
        await asyncio.sleep(0.001)
    assert store.batches == []  # not yet: within the delay
    await _written(store, 1)
    await asyncio.sleep(0.3)  # and nothing more after it
    assert [batch[2] for batch in store.batches] == [_usage(100.0)]
    await writer.close()


async def test_usage_rides_along_with_the_next_turn_and_is_not_written_again() -> None:
    store = MemoryStore()
    writer = _writer(store, usage_delay_seconds=0.2)
    writer.start()
    writer.usage(_usage(5.0))
    writer.turn(_turn(0))
    await _written(store, 1)
    await asyncio.sleep(0.3)  # the delayed wake finds nothing left to write
    assert len(store.batches) == 1
    assert [t["idx"] for t in store.batches[0][0]] == [0] and store.batches[0][2] == _usage(5.0)
    await writer.close()


async def test_close_writes_pending_usage_without_waiting_for_the_delay() -> None:
    store = MemoryStore()
    writer = _writer(store, usage_delay_seconds=3600)
    writer.start()
    writer.usage(_usage(7.0))
    async with asyncio.timeout(10):
        await writer.close()
    assert [u.quantity for batch in store.batches for u in batch[2]] == [7.0]
