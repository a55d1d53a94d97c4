"""Fleet-wide concurrency slots in Redis.

One sorted set per organization (``switchboard:slots:<org>``): member = call id, score =
expiry in ms (Redis server time, so instance clocks do not matter). Acquire is one Lua
script: drop expired slots, keep an existing slot, refuse when the live count reached the
limit, else add. A crashed instance's slots simply expire after ``ttl``; live calls
``refresh`` theirs.
"""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis

_NOW = "local t = redis.call('TIME') local now = t[1] * 1000 + math.floor(t[2] / 1000) "

_ACQUIRE = (
    _NOW
    + """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local ttl = tonumber(ARGV[3])
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
  redis.call('PEXPIRE', KEYS[1], ttl)
  return 1
end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  return 0
end
redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
redis.call('PEXPIRE', KEYS[1], ttl)
return 1
"""
)

_REFRESH = (
    _NOW
    + """
local ttl = tonumber(ARGV[2])
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  redis.call('ZADD', KEYS[1], 'XX', now + ttl, ARGV[1])
  redis.call('PEXPIRE', KEYS[1], ttl)
  return 1
end
return 0
"""
)

_COUNT = (
    _NOW
    + """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
return redis.call('ZCARD', KEYS[1])
"""
)


class RedisLimiter:
    """``ConcurrencyLimiter`` backed by Redis (see module docstring)."""

    def __init__(self, redis: Redis, ttl: float = 120.0, prefix: str = "switchboard") -> None:
        self.ttl = ttl
        self._redis = redis
        self._prefix = prefix
        self._acquire: Any = redis.register_script(_ACQUIRE)
        self._refresh: Any = redis.register_script(_REFRESH)
        self._count: Any = redis.register_script(_COUNT)

    def _key(self, org_id: str) -> str:
        return f"{self._prefix}:slots:{org_id}"

    @property
    def _ttl_ms(self) -> int:
        return max(1, int(self.ttl * 1000))

    async def acquire(self, org_id: str, call_id: str, limit: int) -> bool:
        result = await self._acquire(keys=[self._key(org_id)], args=[call_id, limit, self._ttl_ms])
        return int(result) == 1

    async def release(self, org_id: str, call_id: str) -> None:
        await self._redis.zrem(self._key(org_id), call_id)

    async def refresh(self, org_id: str, call_id: str) -> None:
        await self._refresh(keys=[self._key(org_id)], args=[call_id, self._ttl_ms])

    async def count(self, org_id: str) -> int:
        return int(await self._count(keys=[self._key(org_id)]))
