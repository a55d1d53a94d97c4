"""Per-organization concurrent-call slots. Slots expire unless refreshed, so a crashed
instance's calls stop counting after ``ttl`` seconds."""

from __future__ import annotations

import time
from typing import Protocol


class ConcurrencyLimiter(Protocol):
    ttl: float

    async def acquire(self, org_id: str, call_id: str, limit: int) -> bool: ...

    async def release(self, org_id: str, call_id: str) -> None: ...

    async def refresh(self, org_id: str, call_id: str) -> None: ...

    async def count(self, org_id: str) -> int: ...


class InProcessLimiter:
    """Single-instance limiter: a dict of org -> {call_id: expiry}."""

    def __init__(self, ttl: float = 120.0) -> None:
        self.ttl = ttl
        self._slots: dict[str, dict[str, float]] = {}

    def _live(self, org_id: str) -> dict[str, float]:
        now = time.monotonic()
        slots = self._slots.setdefault(org_id, {})
        for call_id in [c for c, exp in slots.items() if exp <= now]:
            del slots[call_id]
        return slots

    async def acquire(self, org_id: str, call_id: str, limit: int) -> bool:
        slots = self._live(org_id)
        if call_id not in slots and len(slots) >= limit:
            return False
        slots[call_id] = time.monotonic() + self.ttl
        return True

    async def release(self, org_id: str, call_id: str) -> None:
        self._slots.get(org_id, {}).pop(call_id, None)

    async def refresh(self, org_id: str, call_id: str) -> None:
        slots = self._slots.get(org_id)
        if slots is not None and call_id in slots:
            slots[call_id] = time.monotonic() + self.ttl

    async def count(self, org_id: str) -> int:
        return len(self._live(org_id))
