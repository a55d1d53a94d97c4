"""Real-time frame pacing on an absolute clock.

Frame ``i`` of a stream is due at ``start + i * frame_seconds``. Deadlines are computed from
the frame index, never by adding sleeps together, so scheduling error does not accumulate:
a late wake-up makes one frame late, and the next frame is still due at its own deadline.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

FRAME_SECONDS = 0.020


class FrameClock:
    """Deadlines for a stream of fixed-duration frames starting at ``start``."""

    __slots__ = ("start", "frame_seconds", "index", "_now", "max_lag", "lags")

    def __init__(
        self,
        start: float,
        frame_seconds: float = FRAME_SECONDS,
        *,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self.start = start
        self.frame_seconds = frame_seconds
        self.index = 0
        self._now = now
        self.max_lag = 0.0
        #: How late (seconds) each frame was handed out relative to its deadline.
        self.lags: list[float] = []

    def deadline(self, index: int) -> float:
        return self.start + index * self.frame_seconds

    def delay_for_next(self) -> float:
        """Seconds to wait before frame ``self.index`` is due (0 when already due)."""
        return max(0.0, self.deadline(self.index) - self._now())

    def record_sent(self) -> float:
        """Mark frame ``self.index`` as sent now; returns its lag and advances the index."""
        lag = max(0.0, self._now() - self.deadline(self.index))
        self.lags.append(lag)
        if lag > self.max_lag:
            self.max_lag = lag
        self.index += 1
        return lag

    async def wait_next(self) -> None:
        """Sleep until the next frame is due (returns at once when behind schedule)."""
        delay = self.delay_for_next()
        if delay > 0:
            await asyncio.sleep(delay)
