"""What holds the event loop up: garbage-collector pauses and loop stalls, as metrics and
rare log lines (never per frame).

The collector runs on the event-loop thread, so a collection is a pause of every live call's
audio. ``GcPauses`` times each one through ``gc.callbacks``
(``switchboard_gc_pause_seconds{generation}``, ``switchboard_gc_collected_objects_total``) and
keeps a running total that the loop-lag ticker (``server.coordination.fleet``) reads around
each 10 ms tick: a tick later than ``STALL_SECONDS`` is counted
(``switchboard_event_loop_stalls_total``) and logged as ``event_loop_stall`` with the lag and
the part of it spent collecting, so a stall is attributed to the collector or to something
else (docs/OBSERVABILITY.md).
"""

from __future__ import annotations

import gc
import time
from dataclasses import dataclass, field

import structlog

from server import metrics

log = structlog.get_logger(__name__)
STALL_SECONDS = 0.05  # a tick this late is logged: callers hear a gap


@dataclass
class GcPauses:
    """Collector pause timing; ``install()`` once per process."""

    total: float = 0.0  # seconds spent collecting since installed
    longest: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])  # per generation
    _started: float = 0.0

    def callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        pause = time.perf_counter() - self._started
        generation = info.get("generation", 2)
        self.total += pause
        self.longest[generation] = max(self.longest[generation], pause)
        metrics.GC_PAUSE.labels(str(generation)).observe(pause)
        metrics.GC_COLLECTED.labels(str(generation)).inc(info.get("collected", 0))

    def install(self) -> None:
        if self.callback not in gc.callbacks:
            gc.callbacks.append(self.callback)

    def uninstall(self) -> None:
        if self.callback in gc.callbacks:
            gc.callbacks.remove(self.callback)


GC_PAUSES = GcPauses()


def report_stall(lag: float, gc_seconds: float) -> None:
    """Count and log a tick that came back ``lag`` seconds late, ``gc_seconds`` of it spent
    in the collector."""
    metrics.LOOP_STALLS.inc()
    log.warning(
        "event_loop_stall",
        lag_ms=round(lag * 1000, 1),
        gc_ms=round(gc_seconds * 1000, 1),
        gc_counts=list(gc.get_count()),
    )
