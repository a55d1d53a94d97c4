"""What an instance carries (MAX_LIVE_CALLS): running calls and calls admitted here whose
media has not arrived; an unconnected call's place lapses at its deadline."""

from __future__ import annotations

import time

from pipeline.call_runner import CallControl
from server.calls.live import LiveCalls


def test_no_limit_always_has_room() -> None:
    live = LiveCalls()
    assert all(live.reserve(f"c{i}", 60) for i in range(100))
    assert live.count() == 100


def test_running_and_pending_calls_count_against_the_limit() -> None:
    live = LiveCalls(limit=2)
    assert live.reserve("a", 60)
    live.start("b", CallControl())
    assert live.count() == 2 and not live.has_room()
    assert not live.reserve("c", 60)
    live.start("a", CallControl())  # a's media arrived: still one place, not two
    assert live.count() == 2
    live.release("b")
    assert live.has_room() and live.reserve("c", 60)


def test_an_unconnected_call_stops_counting_at_its_deadline() -> None:
    live = LiveCalls(limit=1)
    assert live.reserve("never-connects", 0.05)
    assert not live.reserve("next", 60)
    deadline = time.monotonic() + 5
    while live.count() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert live.count() == 0
    assert live.reserve("next", 60)


def test_release_of_a_pending_call_frees_its_place() -> None:
    live = LiveCalls(limit=1)
    assert live.reserve("a", 60)
    live.release("a")
    assert live.reserve("b", 60)
