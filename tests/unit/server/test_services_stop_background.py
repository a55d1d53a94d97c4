"""Shutdown never hangs on background work (``Services.stop_background``): a task that ends
when cancelled ends; one that absorbs its cancellation (as a pipecat runner whose worker
never finished did at a test run's shutdown) is cancelled again, and one that absorbs every
cancellation is left behind and named, instead of blocking shutdown forever."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from server.services import Services
from server.settings import Settings


def _services(tmp_path: Path) -> Services:
    settings = Settings(_env_file=None, env="test", data_dir=tmp_path)  # type: ignore[call-arg]
    none: Any = None
    return Services(settings=settings, db=none, signer=none, secret_box=none, limiter=none,
                    bus=none)  # fmt: skip


async def _ends_when_cancelled(log: list[str]) -> None:
    try:
        await asyncio.Event().wait()
    except asyncio.CancelledError:
        log.append("cancelled")
        raise


async def _absorbs_first_cancel(log: list[str]) -> None:
    try:
        await asyncio.Event().wait()
    except asyncio.CancelledError:
        log.append("absorbed")
    await asyncio.Event().wait()  # until cancelled a second time


async def _absorbs_every_cancel(release: asyncio.Event) -> None:
    while not release.is_set():
        try:
            await release.wait()
        except asyncio.CancelledError:
            continue


async def test_tasks_that_end_on_cancel_and_one_that_absorbs_it_once_all_end(
    tmp_path: Path,
) -> None:
    services = _services(tmp_path)
    log: list[str] = []
    plain = services.spawn(_ends_when_cancelled(log), name="plain")
    stubborn = services.spawn(_absorbs_first_cancel(log), name="stubborn")
    await asyncio.sleep(0)
    stuck = await services.stop_background(seconds=0.2)
    assert stuck == set()
    assert plain.cancelled() and stubborn.cancelled()
    assert sorted(log) == ["absorbed", "cancelled"]
    assert not services.background


async def test_a_task_absorbing_every_cancel_is_named_and_shutdown_goes_on(
    tmp_path: Path,
) -> None:
    services = _services(tmp_path)
    release = asyncio.Event()
    task = services.spawn(_absorbs_every_cancel(release), name="call:stuck")
    await asyncio.sleep(0)
    stuck = await asyncio.wait_for(services.stop_background(seconds=0.1), timeout=10)
    assert stuck == {"call:stuck"}
    assert not task.done()
    release.set()
    await task
