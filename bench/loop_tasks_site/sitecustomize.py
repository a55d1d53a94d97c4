"""The loop-time hook of ``bench/loop_tasks.py``, loaded by the server it measures.

Python imports ``sitecustomize`` at start-up from ``PYTHONPATH``; ``bench.loop_tasks``
starts the server with this folder there and ``LOOP_TASKS_OUT`` set. With it set, every
callback the asyncio event loop runs is timed (thread CPU time) and added up by what it
runs: a task's coroutine name, or for pipecat's tasks (all ``run_coroutine``) the task's
name without its numbers and ids, with the runs longer than ``LONG`` (1 ms: what holds up
every other call's next step) counted apart. Every two seconds the totals go to
``$LOOP_TASKS_OUT.<pid>`` as JSON (``{name: [runs, seconds, long runs, long seconds]}``
plus ``__process__``, the process CPU). uvloop runs its callbacks in C, out of reach, so
the server runs on the stdlib loop while this is loaded, and the timing adds a few µs to
each callback: the figures are for comparing tasks with each other, not for capacity.
"""

from __future__ import annotations

import asyncio.events
import json
import os
import re
import sys
import threading
import time
from typing import Any

#: a callback this long (CPU seconds) holds the loop up: counted apart
LONG = 0.001

_NUMBERS = re.compile(r"[0-9a-f]{8,}|#\d+|\d+")


def callback_name(callback: Any) -> str:
    """What a loop callback runs: a task's coroutine, or pipecat's task name."""
    task = getattr(callback, "__self__", None)
    get_coro = getattr(task, "get_coro", None)
    if get_coro is not None:
        coro = get_coro()
        name = getattr(coro, "__qualname__", None) or type(coro).__name__
        if name.endswith("run_coroutine"):  # pipecat's TaskManager wraps every task so
            return "pipecat:" + _NUMBERS.sub("", task.get_name())
        return name
    return getattr(callback, "__qualname__", None) or type(callback).__name__


def install(totals: dict[str, list[float]]) -> None:
    """Time every loop callback into ``totals``: name -> [runs, CPU seconds, runs longer
    than ``LONG``, their CPU seconds]."""
    run = asyncio.events.Handle._run
    clock = time.thread_time

    def timed_run(handle: asyncio.events.Handle) -> None:
        name = callback_name(handle._callback)  # before: a run may clear it
        started = clock()
        run(handle)
        spent = clock() - started
        entry = totals.get(name)
        if entry is None:
            entry = totals[name] = [0, 0.0, 0, 0.0]
        entry[0] += 1
        entry[1] += spent
        if spent > LONG:
            entry[2] += 1
            entry[3] += spent

    timed_run.original = run  # type: ignore[attr-defined]
    asyncio.events.Handle._run = timed_run  # type: ignore[method-assign]


def uninstall() -> None:
    original = getattr(asyncio.events.Handle._run, "original", None)
    if original is not None:
        asyncio.events.Handle._run = original  # type: ignore[method-assign]


def _write_every(path: str, totals: dict[str, list[float]], seconds: float) -> None:
    while True:
        time.sleep(seconds)
        snapshot = {name: list(entry) for name, entry in list(totals.items())}
        snapshot["__process__"] = [0, time.process_time()]
        with open(path + ".tmp", "w") as f:
            json.dump(snapshot, f)
        os.replace(path + ".tmp", path)


if os.environ.get("LOOP_TASKS_OUT"):
    sys.modules["uvloop"] = None  # type: ignore[assignment]  # its callbacks run in C
    _totals: dict[str, list[float]] = {}
    install(_totals)
    threading.Thread(
        target=_write_every,
        args=(f"{os.environ['LOOP_TASKS_OUT']}.{os.getpid()}", _totals, 2.0),
        daemon=True,
        name="loop-tasks",
    ).start()
