"""``asyncio.wait_for`` as pipecat's transports call it per audio frame: once a call can be
built (``pipeline.builder`` imported), it runs the awaited coroutine in the caller's task —
no task per frame — and keeps ``wait_for``'s contract (``pipeline.wait_for``)."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

import pipeline.builder  # noqa: F401  (installs pipeline.wait_for, after pipecat's patch)
from pipeline.wait_for import wait_for


async def test_the_call_path_wait_for_runs_the_coroutine_in_the_calling_task() -> None:
    async def which_task() -> asyncio.Task | None:
        return asyncio.current_task()

    # pipecat's wait_for2 (Python 3.11) wraps the coroutine in a task of its own
    assert await asyncio.wait_for(which_task(), timeout=1.0) is asyncio.current_task()


@pytest.mark.parametrize("timeout", [0.01, 0])
async def test_a_timeout_is_timeout_error_and_the_late_item_stays_in_the_queue(timeout: float) -> None:
    queue: asyncio.Queue[int] = asyncio.Queue()
    with pytest.raises(TimeoutError):
        await wait_for(queue.get(), timeout)
    queue.put_nowait(7)
    assert await wait_for(queue.get(), 1.0) == 7


async def test_a_ready_result_is_returned_even_with_no_time_left() -> None:
    done = asyncio.get_running_loop().create_future()
    done.set_result("ready")
    assert await wait_for(done, 0) == "ready"
    assert await wait_for(asyncio.sleep(0, "soon"), None) == "soon"


async def test_cancelling_the_waiter_is_cancellation_not_timeout() -> None:
    started = asyncio.Event()

    async def waiter() -> None:
        started.set()
        await wait_for(asyncio.sleep(10), 5.0)

    task = asyncio.create_task(waiter())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_items_are_never_lost_when_timeouts_race_their_arrival() -> None:
    """A producer puts items on the tick a short timeout fires: every item is read once."""
    queue: asyncio.Queue[int] = asyncio.Queue()
    got: list[int] = []

    async def consume() -> None:
        while len(got) < 300:
            with contextlib.suppress(TimeoutError):
                got.append(await wait_for(queue.get(), 0.001))

    async def produce() -> None:
        for n in range(300):
            await asyncio.sleep(0.001 if n % 3 else 0)
            queue.put_nowait(n)

    await asyncio.wait_for(asyncio.gather(consume(), produce()), 30)
    assert got == list(range(300))
