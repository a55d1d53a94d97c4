"""The Live page's Server-Sent Events: a call starting, speaking and ending reaches a
signed-in client of its organization (and no other), heartbeats, cleanup on disconnect,
and wake-ups across instances through Redis."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import httpx
import pytest

from db import calls as calls_db
from db.calls import CallStatus
from pipeline.call_runner import CallControl
from server.calls.live import LiveCalls
from server.console_feed import ConsoleFeed
from server.routes import console_live


async def events(response: httpx.Response) -> AsyncIterator[tuple[str, Any]]:
    """(event, data) per SSE message; comments as ("comment", text)."""
    kind, data = "message", []
    async for line in response.aiter_lines():
        if line.startswith(":"):
            yield "comment", line[1:].strip()
        elif line.startswith("event:"):
            kind = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].strip())
        elif line == "" and data:
            yield kind, json.loads("\n".join(data))
            kind, data = "message", []


async def next_event(stream: AsyncIterator[tuple[str, Any]], *, skip_comments: bool = True):
    while True:
        kind, data = await asyncio.wait_for(anext(stream), timeout=10)
        if kind != "comment" or not skip_comments:
            return kind, data


async def test_a_call_starts_speaks_and_ends_on_the_stream(client, make_user, server):
    services = server.services
    user, other = await make_user(), await make_user()
    url = "/api/v1/calls/events"
    assert (await client.get(url)).status_code == 401
    async with client.stream("GET", url, headers=user.headers) as response, \
            client.stream("GET", url, headers=other.headers) as foreign:  # fmt: skip
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        mine, theirs = events(response), events(foreign)
        assert await next_event(mine) == ("snapshot", {"calls": []})
        assert await next_event(theirs) == ("snapshot", {"calls": []})

        org = UUID(user.organization_id)
        call = await calls_db.create(
            services.db, org, workflow_id=None, workflow_version=None, channel="webrtc",
            direction="browser", from_number=None, to_number=None, status="in-progress",
            carrier=None, carrier_call_id=None, test=True, variables={}, metadata={},
        )  # fmt: skip
        call_id = str(call["id"])
        services.live_calls.start(call_id, CallControl())  # what the call session does
        kind, data = await next_event(mine)
        assert (kind, data["id"], data["status"]) == ("call.started", call_id, "in-progress")

        now = datetime.now(UTC)
        await calls_db.insert_turns(services.db, org, call["id"], [
            {"idx": 0, "speaker": "agent", "text": "Hello, Acme here.", "started_at": now,
             "ended_at": now, "interrupted": False},
            {"idx": 1, "speaker": "user", "text": "Where is my order?", "started_at": now,
             "ended_at": now, "interrupted": False},
        ])  # fmt: skip
        kind, data = await next_event(mine)
        assert kind == "call.turns" and data["call_id"] == call_id
        assert [t["text"] for t in data["turns"]] == ["Hello, Acme here.", "Where is my order?"]

        await calls_db.finalize(services.db, call["id"], status=CallStatus.COMPLETED,
                                end_reason="caller_hangup")  # fmt: skip
        services.live_calls.release(call_id)
        kind, data = await next_event(mine)
        assert (kind, data["id"], data["end_reason"]) == ("call.ended", call_id, "caller_hangup")

        # the other organization's stream saw none of it: only keep-alives, if anything
        foreign_task = asyncio.ensure_future(next_event(theirs))
        await asyncio.sleep(1.5)
        assert not foreign_task.done()
        foreign_task.cancel()


async def test_snapshot_has_live_calls_with_turns_then_heartbeats_and_cleanup(
    client, make_user, server, monkeypatch
):
    monkeypatch.setattr(console_live, "HEARTBEAT_SECONDS", 0.2)
    services = server.services
    user = await make_user()
    org = UUID(user.organization_id)
    call = await calls_db.create(
        services.db, org, workflow_id=None, workflow_version=None, channel="webrtc",
        direction="browser", from_number=None, to_number=None, status="in-progress",
        carrier=None, carrier_call_id=None, test=True, variables={}, metadata={},
    )  # fmt: skip
    now = datetime.now(UTC)
    await calls_db.insert_turns(services.db, org, call["id"], [
        {"idx": 0, "speaker": "agent", "text": "Hi.", "started_at": now, "ended_at": now,
         "interrupted": False}])  # fmt: skip
    feed = services.console_feed
    before = feed.streams
    async with client.stream("GET", "/api/v1/calls/events", headers=user.headers) as response:
        stream = events(response)
        kind, data = await next_event(stream)
        assert kind == "snapshot"
        [live] = data["calls"]
        assert live["id"] == str(call["id"]) and [t["text"] for t in live["turns"]] == ["Hi."]
        assert await next_event(stream, skip_comments=False) == ("comment", "keep-alive")
        assert feed.streams == before + 1
    # the server finds the closed connection at its next write (a keep-alive) and lets go
    for _ in range(100):
        if feed.streams == before:
            break
        await asyncio.sleep(0.05)
    assert feed.streams == before
    await calls_db.finalize(services.db, call["id"], status=CallStatus.COMPLETED,
                            end_reason="caller_hangup")  # fmt: skip


@dataclass
class _Instance:
    """What a ConsoleFeed uses of an instance's services."""

    redis: Any
    settings: Any
    live_calls: LiveCalls = field(default_factory=LiveCalls)
    background: set[asyncio.Task[Any]] = field(default_factory=set)

    def spawn(self, coro: Any, *, name: str | None = None) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro, name=name)
        self.background.add(task)
        task.add_done_callback(self.background.discard)
        return task


async def test_a_call_on_another_instance_wakes_the_stream_through_redis(redis_url, redis_prefix):
    from redis.asyncio import Redis

    @dataclass
    class _Settings:
        redis_prefix: str

    redis_a, redis_b = Redis.from_url(redis_url), Redis.from_url(redis_url)
    a = ConsoleFeed(_Instance(redis_a, _Settings(redis_prefix)))  # type: ignore[arg-type]
    b_instance = _Instance(redis_b, _Settings(redis_prefix))
    b = ConsoleFeed(b_instance)  # type: ignore[arg-type]
    await a.start()
    await b.start()
    try:
        with a.waiter() as woken:
            b_instance.live_calls.start("call-on-b", CallControl())
            await asyncio.wait_for(woken.wait(), timeout=5)
            assert a.streams == 1
    finally:
        await a.close()
        await b.close()
        await redis_a.aclose()
        await redis_b.aclose()
    assert a.streams == 0


@pytest.mark.parametrize("params", [{"x": "1"}])
async def test_the_stream_takes_no_parameters(client, make_user, params):
    user = await make_user()
    response = await client.get("/api/v1/calls/events", params=params, headers=user.headers)
    assert response.status_code == 422
