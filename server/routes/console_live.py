"""The console's Live page feed: ``GET /api/v1/calls/events``, Server-Sent Events.

The stream opens with a ``snapshot`` of the organization's calls in progress (with their
turns so far), then sends ``call.started``, ``call.updated`` (status, answered),
``call.turns`` (new transcript turns) and ``call.ended``. A call starting or stopping on any
instance wakes the stream at once (``server/console_feed.py``: the live-call registry, over
Redis across instances); while calls are live it also looks for new turns every second.
Comments (``: keep-alive``) keep idle connections open and find closed ones; a stream ends
after ``MAX_STREAM_SECONDS`` (the client reconnects with a fresh token, so a revoked login
stops seeing calls) and when the server drains.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID

from starlette.responses import StreamingResponse

from db import live_feed
from server.api import ApiContext, Router
from server.routes.calls import CallOut, TurnOut
from server.services import Services

router = Router(tags=["calls"])

HEARTBEAT_SECONDS = 15.0
LIVE_TICK_SECONDS = 1.0  # calls in progress: look for new turns this often
IDLE_CHECK_SECONDS = 10.0  # nothing live: re-read now and then even without a wake-up
MAX_STREAM_SECONDS = 300.0
RETRY_MS = 2000


def frame(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


class LiveState:
    """What this stream has sent: each followed call as sent, and its last turn index."""

    def __init__(self) -> None:
        self.calls: dict[UUID, dict[str, Any]] = {}
        self.last_turn: dict[UUID, int] = {}

    async def changes(self, services: Services, org: UUID) -> list[tuple[str, Any]]:
        rows = await live_feed.live_calls(services.db, org, list(self.calls))
        events: list[tuple[str, Any]] = []
        seen: dict[UUID, dict[str, Any]] = {}
        for row in rows:
            call = CallOut.of(row).model_dump(mode="json")
            seen[row["id"]] = call
            before = self.calls.get(row["id"])
            if before is None:
                if call["ended_at"] is None:
                    events.append(("call.started", call))
                    self.last_turn[row["id"]] = -1
            elif before != call and call["ended_at"] is None:
                events.append(("call.updated", call))
        turns = await live_feed.new_turns(services.db, org, self.last_turn)
        by_call: dict[UUID, list[dict[str, Any]]] = {}
        for t in turns:
            by_call.setdefault(t["call_id"], []).append(TurnOut.of(t).model_dump(mode="json"))
            self.last_turn[t["call_id"]] = max(self.last_turn[t["call_id"]], t["idx"])
        for call_id, items in by_call.items():
            events.append(("call.turns", {"call_id": str(call_id), "turns": items}))
        for call_id, call in seen.items():
            if call["ended_at"] is None:
                self.calls[call_id] = call
            elif call_id in self.calls:  # followed until now: it ended
                events.append(("call.ended", call))
                del self.calls[call_id]
                self.last_turn.pop(call_id, None)
        for call_id in [c for c in self.calls if c not in seen]:  # gone (deleted)
            events.append(("call.ended", self.calls.pop(call_id)))
            self.last_turn.pop(call_id, None)
        return events


async def stream(services: Services, org: UUID) -> AsyncIterator[str]:
    feed = services.console_feed
    assert feed is not None
    state = LiveState()
    started = last_sent = time.monotonic()
    with feed.waiter() as woken:
        events = await state.changes(services, org)
        turns = {e["call_id"]: e["turns"] for kind, e in events if kind == "call.turns"}
        snapshot = [{**call, "turns": turns.get(call["id"], [])} for call in state.calls.values()]
        yield f"retry: {RETRY_MS}\n\n" + frame("snapshot", {"calls": snapshot})
        while not services.draining:
            now = time.monotonic()
            if now - started >= MAX_STREAM_SECONDS:
                return
            wait = LIVE_TICK_SECONDS if state.calls else IDLE_CHECK_SECONDS
            wait = min(wait, max(0.0, HEARTBEAT_SECONDS - (now - last_sent)))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(woken.wait(), timeout=wait)
            woken.clear()
            out = "".join(frame(kind, data) for kind, data in await state.changes(services, org))
            if not out and time.monotonic() - last_sent >= HEARTBEAT_SECONDS:
                out = ": keep-alive\n\n"
            if out:
                last_sent = time.monotonic()
                yield out


@router.get("/api/v1/calls/events",
            summary="Server-Sent Events: the organization's calls in progress as they start, "
                    "speak and end (the console's Live page)",
            description="`text/event-stream`. Events: `snapshot` {calls: [call + turns]}, "
                        "`call.started`, `call.updated`, `call.ended` (a call), `call.turns` "
                        "{call_id, turns}. Comment lines keep the connection alive; the stream "
                        f"closes after {int(MAX_STREAM_SECONDS)} s: reconnect.")  # fmt: skip
async def call_events(ctx: ApiContext) -> StreamingResponse:
    return StreamingResponse(
        stream(ctx.services, ctx.caller.organization_id),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
