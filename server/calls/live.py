"""The calls this instance carries: running pipelines, and calls admitted here whose media
has not arrived yet. ``MAX_LIVE_CALLS`` caps the sum, so an instance refuses a call it
could not carry instead of degrading every call it already has.

A reservation (admitted, media not yet connected) lapses after its deadline: a carrier whose
media stream lands on another instance of the fleet, or never comes, stops counting here
once its stream token could no longer be used.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pipeline.call_runner import CallControl


@dataclass
class LiveCalls:
    """Process-wide registry (``Services.live_calls``); call ids are strings."""

    limit: int | None = None  # MAX_LIVE_CALLS; None: no instance limit
    running: dict[str, CallControl] = field(default_factory=dict)
    _pending: dict[str, float] = field(default_factory=dict)  # call id -> monotonic deadline
    # called (synchronously, so keep them cheap) when a call starts or stops running here:
    # the console's live feed (server/console_feed.py) listens
    _listeners: list[Callable[[str], None]] = field(default_factory=list)

    def listen(self, listener: Callable[[str], None]) -> Callable[[], None]:
        """Call ``listener(call_id)`` whenever a call starts or stops running here; returns
        the function that stops it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def _changed(self, call_id: str) -> None:
        for listener in list(self._listeners):
            listener(call_id)

    def count(self) -> int:
        now = time.monotonic()
        for call_id in [c for c, deadline in self._pending.items() if deadline <= now]:
            del self._pending[call_id]
        return len(self.running) + len(self._pending)

    def reserved(self) -> list[str]:
        """Calls admitted here whose media has not arrived (lapsed ones included until the
        next ``count``)."""
        return list(self._pending)

    def has_room(self) -> bool:
        return self.limit is None or self.count() < self.limit

    def reserve(self, call_id: str, seconds: float) -> bool:
        """Hold a place for a call whose media arrives within ``seconds``; False when full."""
        if not self.has_room():
            return False
        self._pending[call_id] = time.monotonic() + seconds
        return True

    def start(self, call_id: str, control: CallControl) -> None:
        """The call's pipeline runs here now (its reservation, if any, becomes the call)."""
        self._pending.pop(call_id, None)
        self.running[call_id] = control
        self._changed(call_id)

    def release(self, call_id: str) -> None:
        self._pending.pop(call_id, None)
        if self.running.pop(call_id, None) is not None:
            self._changed(call_id)
