"""``asyncio.wait_for`` without a task per call, on Python 3.11.

pipecat replaces ``asyncio.wait_for`` on Python < 3.12 with ``wait_for2.wait_for``, which
wraps every awaited coroutine in a new task and races it against a separate waiter. Its
transports call ``wait_for`` for every 20 ms audio frame — the input transport's queue
read, the output transport's queue read and its write — so each call paid three task
creations (and the extra loop turns they take) 50 times a second.

Python 3.12's ``wait_for`` is ``async with asyncio.timeout(t): return await fut``: the
coroutine runs in the caller's own task and a timeout cancels that task, which is also how
pipecat's reason for ``wait_for2`` (a result lost when the timeout and the completion race)
is avoided. ``asyncio.timeout`` with that cancel-count bookkeeping is in 3.11 (3.11.3+), so
``install`` puts 3.12's ``wait_for`` in place on 3.11 — once pipecat has been imported, so
that its own patch does not run after ours. On 3.12 and later it changes nothing.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")


async def wait_for(fut: Awaitable[T], timeout: float | None) -> T:  # noqa: ASYNC109
    """Python 3.12's ``asyncio.wait_for``: the awaitable runs in the calling task."""
    if timeout is not None and timeout <= 0:
        task = asyncio.ensure_future(fut)
        if task.done():
            return task.result()
        task.cancel()
        await asyncio.wait({task})  # until the cancelled awaitable has finished
        try:
            return task.result()
        except asyncio.CancelledError as exc:
            raise TimeoutError from exc
    async with asyncio.timeout(timeout):
        return await fut


def install() -> None:
    """Make ``asyncio.wait_for`` the 3.12 one on Python 3.11 (after pipecat's own patch)."""
    if sys.version_info >= (3, 12):
        return
    import pipecat  # noqa: F401  (runs pipecat's patch first, so ours is the one left)

    asyncio.wait_for = wait_for  # type: ignore[assignment]
