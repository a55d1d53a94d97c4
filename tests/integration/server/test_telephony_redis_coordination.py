"""Redis limiter and control bus against a real Redis server (``redis_url`` fixture)."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from redis.asyncio import Redis

from server.calls.commands import CallCommand, HangUp, Transfer
from server.coordination.redis_bus import RedisBus
from server.coordination.redis_limiter import RedisLimiter

pytestmark = pytest.mark.redis


async def test_limiter_enforces_limit_across_instances_and_slots_expire(
    redis_url: str, redis_prefix: str
) -> None:
    a, b = Redis.from_url(redis_url), Redis.from_url(redis_url)
    try:
        one = RedisLimiter(a, ttl=0.4, prefix=redis_prefix)  # two "instances"
        two = RedisLimiter(b, ttl=0.4, prefix=redis_prefix)
        org = str(uuid.uuid4())
        assert await one.acquire(org, "c1", 2)
        assert await two.acquire(org, "c2", 2)
        assert not await one.acquire(org, "c3", 2)
        assert await two.acquire(org, "c1", 2)  # re-acquiring an own slot is fine
        assert await one.count(org) == 2
        await two.release(org, "c2")
        assert await one.acquire(org, "c3", 2)
        # c1 is kept alive by refresh; c3 (a "crashed" call) expires
        for _ in range(4):
            await asyncio.sleep(0.15)
            await one.refresh(org, "c1")
        assert await one.count(org) == 1
        assert await two.acquire(org, "c4", 2)
        assert not await two.acquire(org, "c5", 2)
        await one.refresh(org, "unknown")  # refreshing a missing slot does not create it
        assert await one.count(org) == 2
    finally:
        await a.aclose()
        await b.aclose()


async def test_bus_delivers_commands_to_the_instance_holding_the_call(
    redis_url: str, redis_prefix: str
) -> None:
    a, b = Redis.from_url(redis_url), Redis.from_url(redis_url)
    holder, other = RedisBus(a, prefix=redis_prefix), RedisBus(b, prefix=redis_prefix)
    try:
        call_id = str(uuid.uuid4())
        received: asyncio.Queue[CallCommand] = asyncio.Queue()

        async def handler(command: CallCommand) -> None:
            await received.put(command)

        unsubscribe = await holder.subscribe(call_id, handler)
        assert await other.publish(call_id, HangUp()) == 1
        assert await asyncio.wait_for(received.get(), 5) == HangUp()
        # typed commands cross the bus as themselves; a message that is no command is dropped
        assert await other.publish(call_id, Transfer(to="+14155550100", source="agent")) == 1
        assert await asyncio.wait_for(received.get(), 5) == Transfer(to="+14155550100", source="agent")
        assert await b.publish(f"{redis_prefix}:call:{call_id}", b'{"type": "explode"}') == 1
        assert await other.publish(str(uuid.uuid4()), HangUp()) == 0
        await unsubscribe()
        assert await other.publish(call_id, HangUp()) == 0
        assert received.empty()
    finally:
        await holder.close()
        await other.close()
        await a.aclose()
        await b.aclose()
