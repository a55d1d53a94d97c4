"""Replay protection for signed carrier webhooks: a signed request is accepted once.

``ReplayGuard.first_seen(key, ttl)`` is True the first time a key is offered within
``ttl`` seconds, False afterwards. With Redis (``REDIS_URL``) the key is set with
``SET NX EX`` under ``<REDIS_PREFIX>:replay:``, so the whole fleet shares it; without, a
bounded in-process map keeps the keys (the oldest are dropped past ``max_keys``, so a
flood cannot grow memory without bound).

Keys come from ``CarrierProvider.replay_key`` and are only offered after the signature
verified: a forged request can neither fill the cache nor burn a legitimate key.
"""

from __future__ import annotations

import heapq
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from redis.asyncio import Redis

DEFAULT_MAX_KEYS = 100_000


class ReplayGuard:
    def __init__(
        self, redis: Redis | None = None, *, prefix: str = "switchboard", max_keys: int = DEFAULT_MAX_KEYS
    ) -> None:
        self._redis = redis
        self._prefix = prefix
        self._max_keys = max_keys
        self._expiry: dict[str, float] = {}
        self._heap: list[tuple[float, str]] = []  # (expiry, key), oldest first

    async def first_seen(self, key: str, ttl_seconds: float) -> bool:
        """True when ``key`` was not seen in the last ``ttl_seconds`` (and remember it)."""
        ttl = max(1, int(ttl_seconds))
        if self._redis is not None:
            return bool(await self._redis.set(f"{self._prefix}:replay:{key}", b"1", nx=True, ex=ttl))
        return self._first_seen_locally(key, ttl)

    def _first_seen_locally(self, key: str, ttl: int) -> bool:
        now = time.monotonic()
        self._expire(now)
        expiry = self._expiry.get(key)
        if expiry is not None and expiry > now:
            return False
        while len(self._expiry) >= self._max_keys and self._heap:
            _, oldest = heapq.heappop(self._heap)
            self._expiry.pop(oldest, None)
        self._expiry[key] = now + ttl
        heapq.heappush(self._heap, (now + ttl, key))
        return True

    def _expire(self, now: float) -> None:
        while self._heap and self._heap[0][0] <= now:
            expiry, key = heapq.heappop(self._heap)
            if self._expiry.get(key) == expiry:
                del self._expiry[key]

    def __len__(self) -> int:
        return len(self._expiry)
