"""Writes a live call's turns, events and usage to the database, off the audio path.

The pipeline hands records to ``CallRecordWriter`` (a ``CallEventSink``) from the event loop;
each is appended to a queue in O(1). A single writer task drains the queue and writes
everything that accumulated as one batch (one transaction), so turns reach the database as
soon as they complete (a crash loses at most the turn in flight) while a busy call still
costs one round trip per batch, not per record. A batch that fails is retried
(``WRITE_ATTEMPTS``) before it is given up with one log line; usage is written as running
totals, so the next batch carries the latest totals anyway.

Usage totals change many times a turn (each TTS sentence, each STT segment, each agent
run). A change does not wake the writer: every batch carries the latest totals, and a
change with nothing else to write is written alone ``USAGE_DELAY_SECONDS`` later, so a
turn's changes are one write, not one transaction each (BENCHMARKS.md, issue 15 step 6).
``close`` writes whatever is pending at once; a crash loses at most that delay's changes.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

import asyncpg
import structlog

from db import calls as calls_db
from db import usage as usage_db
from pipeline.events import CallEvent, CallResult, TurnRecord, UsageRecord

log = structlog.get_logger(__name__)

_STOP = object()


class _Flushed:
    """A marker in the queue: set once every record queued before it has been written."""

    __slots__ = ("done",)

    def __init__(self) -> None:
        self.done = asyncio.Event()
WRITE_ATTEMPTS = 3  # a batch is written in one transaction; retried on transient errors
RETRY_SECONDS = 0.5
#: Usage totals changed with nothing else to write are written this much later: they ride
#: along with the next turn or event batch, or go alone after this delay.
USAGE_DELAY_SECONDS = 2.0

EventRow = tuple[str, datetime, dict[str, Any]]


def turn_row(record: TurnRecord) -> dict[str, Any]:
    latency = record.latency.as_dict() if record.latency else {}
    return {
        "idx": record.index,
        "speaker": record.speaker,
        "text": record.text,
        "started_at": record.started_at,
        "ended_at": record.ended_at,
        "interrupted": record.interrupted,
        "node": record.node,
        "tool": record.tool,
        **latency,
    }


class RecordStore(Protocol):
    """Where a batch goes: all of it or none of it (one transaction)."""

    async def write(self, turns: Sequence[dict[str, Any]], events: Sequence[EventRow],
                    usage: Sequence[UsageRecord]) -> None: ...  # fmt: skip


class PostgresRecordStore:
    """A call's turns, events and usage totals in PostgreSQL."""

    def __init__(self, pool: asyncpg.Pool, organization_id: UUID, call_id: UUID,
                 workflow_id: UUID | None) -> None:  # fmt: skip
        self._pool, self._org, self._call, self._workflow = pool, organization_id, call_id, workflow_id

    async def write(self, turns: Sequence[dict[str, Any]], events: Sequence[EventRow],
                    usage: Sequence[UsageRecord]) -> None:  # fmt: skip
        async with self._pool.acquire() as conn, conn.transaction():
            if turns:
                await calls_db.insert_turns(conn, self._org, self._call, turns)
            if events:
                await calls_db.insert_events(conn, self._org, self._call, events)
            if usage:
                await usage_db.upsert_for_call(
                    conn, self._org, self._call, self._workflow,
                    [(u.kind, u.provider, u.model or "", u.quantity) for u in usage],
                )  # fmt: skip


class CallRecordWriter:
    """The ``CallEventSink`` of a call run by the server."""

    def __init__(self, store: RecordStore, call_id: UUID, *, billable_provider: str,
                 retry_seconds: float = RETRY_SECONDS,
                 usage_delay_seconds: float = USAGE_DELAY_SECONDS) -> None:  # fmt: skip
        self._store = store
        self._call = call_id
        self._billable_provider = billable_provider
        self._retry_seconds = retry_seconds
        self._usage_delay = usage_delay_seconds
        self._queue: asyncio.Queue[object] = asyncio.Queue()
        self._usage: list[UsageRecord] | None = None
        self._usage_timer: asyncio.TimerHandle | None = None
        self._task: asyncio.Task[None] | None = None
        self.result: CallResult | None = None
        self.turns_written = 0
        self.batches_written = 0
        self.batches_lost = 0

    # -- CallEventSink (never blocks) -------------------------------------------------------
    def turn(self, record: TurnRecord) -> None:
        self._queue.put_nowait(record)

    def event(self, event: CallEvent) -> None:
        self._queue.put_nowait(event)

    def usage(self, records: list[UsageRecord]) -> None:
        self._usage = list(records)  # every batch carries the latest totals
        if self._usage_timer is None:  # nothing else written by then: wake the writer
            self._usage_timer = asyncio.get_running_loop().call_later(
                self._usage_delay, self._wake_for_usage
            )

    def _wake_for_usage(self) -> None:
        self._usage_timer = None
        self._queue.put_nowait(None)

    def ended(self, result: CallResult) -> None:
        self.result = result

    # -- writer task ------------------------------------------------------------------------
    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"call-writer:{self._call}")

    async def flush(self) -> None:
        """Wait until every record queued so far is written (or given up). The call is
        finalized after this, so a reader that sees the call ended sees all its turns."""
        if self._task is None or self._task.done():
            return
        marker = _Flushed()
        self._queue.put_nowait(marker)
        await marker.done.wait()

    async def close(self, billable_seconds: float | None = None) -> None:
        """Write everything still queued (plus the billable seconds) and stop the writer."""
        if self._usage_timer is not None:
            self._usage_timer.cancel()
            self._usage_timer = None
        if billable_seconds is not None:
            self._usage = [
                *(self._usage or []),
                UsageRecord("call_seconds", self._billable_provider, None, billable_seconds),  # type: ignore[arg-type]
            ]
            self._queue.put_nowait(None)
        self._queue.put_nowait(_STOP)
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        stopping = False
        while not stopping:
            batch = [await self._queue.get()]
            while not self._queue.empty():
                batch.append(self._queue.get_nowait())
            stopping = any(item is _STOP for item in batch)
            turns = [turn_row(i) for i in batch if isinstance(i, TurnRecord)]
            events = [(i.kind, i.at, i.data) for i in batch if isinstance(i, CallEvent)]
            usage, self._usage = self._usage, None
            try:
                if turns or events or usage:
                    await self._write(turns, events, usage or [])
            finally:
                for item in batch:
                    if isinstance(item, _Flushed):
                        item.done.set()

    async def _write(self, turns: list[dict[str, Any]], events: list[EventRow],
                     usage: list[UsageRecord]) -> None:  # fmt: skip
        for attempt in range(WRITE_ATTEMPTS):
            try:
                await self._store.write(turns, events, usage)
            except Exception:
                if attempt + 1 == WRITE_ATTEMPTS:
                    self.batches_lost += 1
                    log.exception("call_records_write_failed", call_id=str(self._call),
                                  turns=len(turns), events=len(events))  # fmt: skip
                    return
                await asyncio.sleep(self._retry_seconds * (attempt + 1))
            else:
                self.turns_written += len(turns)
                self.batches_written += 1
                return
