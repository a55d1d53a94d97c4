"""``asyncio.wait_for`` without a task or a loop timer per wait.

pipecat's transports call ``asyncio.wait_for`` for every 20 ms audio frame — the input
transport's queue read, the output transport's queue read and its write — so a call waits
with a timeout 150 times a second, and almost every wait ends long before its timeout
(a fraction of a second or more).

- On Python < 3.12 pipecat replaces ``asyncio.wait_for`` with ``wait_for2.wait_for``, which
  wraps every awaited coroutine in a new task and races it against a separate waiter.
- Python 3.12's ``wait_for`` is ``async with asyncio.timeout(t): return await fut``: the
  coroutine runs in the caller's own task and a timeout cancels that task (which is also
  how pipecat's reason for ``wait_for2``, a result lost when the timeout and the completion
  race, is avoided). But ``asyncio.timeout`` arms and cancels a loop timer per wait, and
  under uvloop (what uvicorn runs) a timer is a libuv handle allocated and closed each
  time: a wait costs as much as ``wait_for2``'s task.

``wait_for`` here is 3.12's with the timer shared: the wait records its task and deadline
in its loop's ``Deadlines``, which keeps one timer armed at the earliest deadline and
cancels the tasks of the waits whose deadline has passed; the wait turns that cancellation
into ``TimeoutError`` with ``asyncio.Timeout``'s bookkeeping (``Task.cancelling`` /
``uncancel``: a cancellation someone else asked for stays a cancellation). A wait that
ends in time costs a dict insert and delete. A timeout fires at most ``SLACK`` late; waits
shorter than ``PRECISE_BELOW``, or outside a task, use ``asyncio.timeout``.

``install`` puts it in place of ``asyncio.wait_for`` once pipecat has been imported (so
that pipecat's own patch does not run after ours), on every Python version.
"""

from __future__ import annotations

import asyncio
import math
import weakref
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")

#: How late a shared-timer timeout may fire: a wait whose deadline is earlier than the armed
#: timer by less than this does not re-arm it.
SLACK = 0.01
#: Timeouts shorter than this keep a timer of their own (``asyncio.timeout``).
PRECISE_BELOW = 0.05


class Deadlines:
    """The pending ``wait_for`` deadlines of one event loop, behind one timer."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._waits: dict[SharedTimeout, float] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._armed_at = math.inf

    def __len__(self) -> int:
        return len(self._waits)

    def add(self, wait: SharedTimeout, deadline: float) -> None:
        self._waits[wait] = deadline
        if deadline < self._armed_at - SLACK:
            if self._timer is not None:
                self._timer.cancel()
            self._arm(deadline)

    def discard(self, wait: SharedTimeout) -> None:
        self._waits.pop(wait, None)

    def _arm(self, at: float) -> None:
        self._timer = self._loop.call_at(at, self._expire)
        self._armed_at = at

    def _expire(self) -> None:
        self._timer, self._armed_at = None, math.inf
        now = self._loop.time()
        expired = [w for w, deadline in self._waits.items() if deadline <= now]
        for wait in expired:
            del self._waits[wait]
            wait.fired = True
            wait.task.cancel()  # SharedTimeout turns this cancellation into TimeoutError
        if self._waits:
            self._arm(min(self._waits.values()))


_deadlines: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Deadlines] = (
    weakref.WeakKeyDictionary()
)
_last: tuple[asyncio.AbstractEventLoop | None, Deadlines | None] = (None, None)


def deadlines(loop: asyncio.AbstractEventLoop) -> Deadlines:
    """``loop``'s ``Deadlines`` (the last one found is kept at hand: a server has one loop)."""
    global _last
    last_loop, found = _last
    if last_loop is loop and found is not None:
        return found
    found = _deadlines.get(loop)
    if found is None:
        found = _deadlines[loop] = Deadlines(loop)
    _last = (loop, found)
    return found


class SharedTimeout:
    """``asyncio.timeout(seconds)`` on the loop's shared timer: ``async with SharedTimeout(s)``
    raises ``TimeoutError`` when the block outlives ``s`` (at most ``SLACK`` late), with
    ``asyncio.Timeout``'s bookkeeping (``Task.cancelling``/``uncancel``: a cancellation
    someone else asked for stays a cancellation). Inside a task only."""

    __slots__ = ("_cancelling", "_pending", "_seconds", "fired", "task")

    def __init__(self, seconds: float) -> None:
        self._seconds = seconds
        self.fired = False  # set by Deadlines when the deadline passed (and cancelled task)

    async def __aenter__(self) -> SharedTimeout:
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("SharedTimeout should be used inside a task")
        loop = asyncio.get_running_loop()
        self.task = task
        self._cancelling = task.cancelling()
        self._pending = deadlines(loop)
        self._pending.add(self, loop.time() + self._seconds)
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: object) -> None:  # fmt: skip
        self._pending.discard(self)
        # once fired, our cancel request is taken back (uncancel) whatever the block raised
        if (
            self.fired
            and self.task.uncancel() <= self._cancelling
            and exc_type is asyncio.CancelledError
        ):
            raise TimeoutError from exc

    def expired(self) -> bool:
        """Whether the deadline passed (and cancelled the block)."""
        return self.fired


async def wait_for(fut: Awaitable[T], timeout: float | None) -> T:  # noqa: ASYNC109
    """``asyncio.wait_for`` as in Python 3.12 (the awaitable runs in the calling task),
    with the loop's one shared timer for timeouts of ``PRECISE_BELOW`` or more."""
    if timeout is None:
        return await fut
    if timeout <= 0:
        task = asyncio.ensure_future(fut)
        if task.done():
            return task.result()
        task.cancel()
        await asyncio.wait({task})  # until the cancelled awaitable has finished
        try:
            return task.result()
        except asyncio.CancelledError as exc:
            raise TimeoutError from exc
    if timeout < PRECISE_BELOW or asyncio.current_task() is None:
        async with asyncio.timeout(timeout):  # (outside a task: asyncio's RuntimeError)
            return await fut
    async with SharedTimeout(timeout):
        return await fut


def install() -> None:
    """Make ``asyncio.wait_for`` this one (after pipecat's own patch on Python 3.11)."""
    import pipecat  # noqa: F401  (runs pipecat's patch first, so ours is the one left)

    asyncio.wait_for = wait_for  # type: ignore[assignment]
