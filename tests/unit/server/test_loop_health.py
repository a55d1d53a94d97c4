"""The collector-pause and loop-stall instrumentation (``server.loop_health``)."""

from __future__ import annotations

import gc

from prometheus_client import REGISTRY

from server.loop_health import GcPauses, report_stall


def _sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_collections_are_timed_by_generation_while_installed() -> None:
    pauses = GcPauses()
    pauses.install()
    pauses.install()  # idempotent: one callback
    try:
        assert gc.callbacks.count(pauses.callback) == 1
        # the process-wide instance may be installed too (an app ran earlier in this
        # process): each installed instance observes the collection once
        installed = sum(isinstance(getattr(cb, "__self__", None), GcPauses) for cb in gc.callbacks)
        before = _sample("switchboard_gc_pause_seconds_count", generation="2")
        gc.collect(2)
        after = _sample("switchboard_gc_pause_seconds_count", generation="2")
        assert after == before + installed
        assert pauses.total > 0 and pauses.longest[2] > 0
    finally:
        pauses.uninstall()
    assert pauses.callback not in gc.callbacks
    total = pauses.total
    gc.collect(2)
    assert pauses.total == total  # no longer called


def test_collected_cycles_are_counted() -> None:
    pauses = GcPauses()
    pauses.install()
    try:
        before = _sample("switchboard_gc_collected_objects_total", generation="2")
        for _ in range(50):
            a: list[object] = []
            a.append(a)  # a cycle only the collector frees
            del a
        gc.collect(2)
        assert _sample("switchboard_gc_collected_objects_total", generation="2") >= before + 50
    finally:
        pauses.uninstall()


def test_a_stall_is_counted() -> None:
    before = _sample("switchboard_event_loop_stalls_total")
    report_stall(0.12, 0.1)
    assert _sample("switchboard_event_loop_stalls_total") == before + 1
