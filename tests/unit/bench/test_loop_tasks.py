"""bench/loop_tasks.py: its loop hook adds up callback CPU by task, and its table."""

from __future__ import annotations

import asyncio
import importlib.util
import time
from collections.abc import Callable, Coroutine
from types import ModuleType
from typing import Any

from bench.loop_tasks import SITE, difference, table


def _hook() -> ModuleType:
    # loaded under another name, with LOOP_TASKS_OUT unset: nothing installs on import
    spec = importlib.util.spec_from_file_location("loop_tasks_hook", SITE / "sitecustomize.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _hooked(main: Callable[[], Coroutine[Any, Any, None]]) -> dict[str, list[float]]:
    """The hook's totals of running ``main`` on a fresh loop."""
    hook = _hook()
    totals: dict[str, list[float]] = {}
    hook.install(totals)
    try:
        asyncio.run(main())
    finally:
        hook.uninstall()
    return totals


def _spin(seconds: float) -> None:
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass


def test_callbacks_are_added_up_by_task_and_pipecat_tasks_by_name():
    async def busy_worker() -> None:
        for _ in range(3):
            _spin(0.005)
            await asyncio.sleep(0)

    async def run_coroutine() -> None:  # what pipecat's TaskManager wraps every task in
        _spin(0.002)

    async def main() -> None:
        await asyncio.gather(
            asyncio.create_task(busy_worker()),
            asyncio.create_task(run_coroutine(), name="call:1f2e3d4c5b6a::DeepgramFluxSTTService#12::reader"),
        )

    totals = _hooked(main)
    worker = next(v for k, v in totals.items() if k.endswith("busy_worker"))
    assert worker[0] >= 4  # the first step and one per sleep(0)
    assert worker[1] >= 0.015
    assert worker[2] == 3  # the three 5 ms runs are long, the last (a return) is not
    assert 0.015 <= worker[3] <= worker[1]
    pipecat = totals["pipecat:call:::DeepgramFluxSTTService::reader"]
    assert pipecat[1] >= 0.002
    assert pipecat[2] == 1


def test_short_callbacks_are_not_counted_as_long():
    async def quick() -> None:
        for _ in range(5):
            await asyncio.sleep(0)

    totals = _hooked(quick)
    entry = next(v for k, v in totals.items() if k.endswith("quick"))
    assert entry[0] == 6
    assert entry[2:] == [0, 0.0]


def test_uninstall_puts_the_loop_back():
    hook = _hook()
    original = asyncio.events.Handle._run
    hook.install({})
    assert asyncio.events.Handle._run is not original
    hook.uninstall()
    assert asyncio.events.Handle._run is original


def test_difference_and_per_turn_table():
    before = {"reader": [10, 0.010, 0, 0.0], "__process__": [0, 1.0]}
    after = {"reader": [110, 0.110, 2, 0.004], "stt": [50, 0.200, 5, 0.100],
             "__process__": [0, 1.5]}  # fmt: skip
    during = difference(before, after)
    assert during["reader"] == [100, 0.1, 2, 0.004]
    assert during["stt"] == [50, 0.2, 5, 0.1]
    assert during["__process__"] == [0, 0.5]
    lines = table(during, turns=10, top=1)
    assert lines[0] == ("per caller turn (10 turns): process CPU 50.0 ms, loop callbacks "
                        "30.0 ms (10.4 ms in runs longer than 1 ms)")  # fmt: skip
    assert lines[2].split() == ["20.00", "5.0", "0.50", "10.00", "stt"]  # costliest first
    assert len(lines) == 3
