"""``asyncio.wait_for`` as pipecat's transports call it per audio frame: once a call can be
built (``pipeline.builder`` imported), it runs the awaited coroutine in the caller's task —
no task per frame — with one shared timer per loop, and keeps ``wait_for``'s contract
(``pipeline.wait_for``)."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

import pipeline.builder  # noqa: F401  (installs pipeline.wait_for, after pipecat's patch)
from pipeline.wait_for import PRECISE_BELOW, deadlines, wait_for


async def test_the_call_path_wait_for_runs_the_coroutine_in_the_calling_task() -> None:
    async def which_task() -> asyncio.Task | None:
        return asyncio.current_task()

    # pipecat's wait_for2 (Python 3.11) wraps the coroutine in a task of its own
    assert await asyncio.wait_for(which_task(), timeout=1.0) is asyncio.current_task()


@pytest.mark.parametrize("timeout", [0.01, PRECISE_BELOW, 0])
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


@pytest.mark.parametrize("timeout", [0.001, PRECISE_BELOW])
def test_items_are_never_lost_when_timeouts_race_their_arrival(timeout: float) -> None:
    """A producer puts items around the moment a timeout fires: every item is read once,
    and no wait is left behind (a loop of its own: other tests' waits are not counted)."""

    async def scenario() -> None:
        queue: asyncio.Queue[int] = asyncio.Queue()
        got: list[int] = []

        async def consume() -> None:
            while len(got) < 200:
                with contextlib.suppress(TimeoutError):
                    got.append(await wait_for(queue.get(), timeout))

        async def produce() -> None:
            for n in range(200):
                await asyncio.sleep((0.5, 1.0, 1.5)[n % 3] * timeout if n % 4 else 0)
                queue.put_nowait(n)

        async with asyncio.timeout(60):
            await asyncio.gather(consume(), produce())
        assert got == list(range(200))
        assert len(deadlines(asyncio.get_running_loop())) == 0

    asyncio.run(scenario())


def test_a_short_wait_times_out_on_time_while_a_long_one_is_pending() -> None:
    """The shared timer is armed for the long wait first; the short one must re-arm it.
    (A loop of its own: no timer left armed by another test.)"""

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        long_wait = asyncio.create_task(wait_for(asyncio.Event().wait(), 30.0))
        await asyncio.sleep(0)
        started = loop.time()
        async with asyncio.timeout(10):  # a guard: without the re-arm this waits 30 s
            with pytest.raises(TimeoutError):
                await wait_for(asyncio.Event().wait(), 0.1)
        assert loop.time() >= started + 0.1  # not before its deadline
        assert not long_wait.done()
        long_wait.cancel()
        with pytest.raises(asyncio.CancelledError):
            await long_wait

    asyncio.run(scenario())


def test_a_cancel_that_races_the_deadline_stays_a_cancellation() -> None:
    """The deadline expires and someone cancels the task before it runs again: the task
    ends cancelled (as with ``asyncio.timeout``), not with a ``TimeoutError``. (A loop of
    its own: only this test's wait is in its deadlines.)"""

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        waiting = asyncio.create_task(wait_for(asyncio.Event().wait(), 30.0))
        await asyncio.sleep(0)
        pending = deadlines(loop)
        assert len(pending) == 1
        for wait in pending._waits:  # the deadline passes now (white box: no 30 s wait)
            pending._waits[wait] = loop.time()
        pending._expire()
        waiting.cancel()  # before the task has run again
        with pytest.raises(asyncio.CancelledError):
            await waiting
        assert len(pending) == 0

    asyncio.run(scenario())
