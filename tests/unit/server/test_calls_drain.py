"""Drain (``server.calls.drain``): readiness fails at once, no calls means no wait, a call
still up after the grace period hears the goodbye and ends as ``server_shutdown``, one that
does not end after its goodbye is hung up."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from pipeline.events import EndReason
from server.calls import drain
from server.calls.live import LiveCalls
from server.settings import Settings


class Call:
    """A live call's control: ends (leaves the registry) when told, or ignores goodbyes."""

    def __init__(self, live: LiveCalls, call_id: str, *, hears_goodbye: bool = True) -> None:
        self.live, self.call_id, self.hears_goodbye = live, call_id, hears_goodbye
        self.goodbyes: list[tuple[str, EndReason]] = []
        self.hang_ups: list[EndReason] = []
        live.start(call_id, self)  # type: ignore[arg-type]

    async def say_goodbye(self, text: str, reason: EndReason) -> None:
        self.goodbyes.append((text, reason))
        if self.hears_goodbye:
            asyncio.get_running_loop().call_later(0.05, self.live.release, self.call_id)

    async def hang_up(self, reason: EndReason) -> None:
        self.hang_ups.append(reason)
        self.live.release(self.call_id)


def _services(tmp_path: Path, grace: float) -> Any:
    settings = Settings(_env_file=None, env="test", data_dir=tmp_path,  # type: ignore[call-arg]
                        shutdown_grace_seconds=grace)  # fmt: skip
    return SimpleNamespace(settings=settings, live_calls=LiveCalls(), draining=False)


async def test_no_calls_no_wait(tmp_path: Path) -> None:
    services = _services(tmp_path, grace=3600)
    await asyncio.wait_for(drain.drain_calls(services), 5)
    assert services.draining


async def test_a_call_still_up_hears_the_goodbye(tmp_path: Path) -> None:
    services = _services(tmp_path, grace=0.2)
    call = Call(services.live_calls, "c1")
    await asyncio.wait_for(drain.drain_calls(services), 5)
    assert call.goodbyes == [(services.settings.shutdown_goodbye, EndReason.SERVER_SHUTDOWN)]
    assert call.hang_ups == [] and not services.live_calls.running


async def test_a_call_ending_within_the_grace_period_is_left_alone(tmp_path: Path) -> None:
    services = _services(tmp_path, grace=30)
    call = Call(services.live_calls, "c1")
    asyncio.get_running_loop().call_later(0.1, services.live_calls.release, "c1")
    await asyncio.wait_for(drain.drain_calls(services), 5)
    assert call.goodbyes == [] and call.hang_ups == []


async def test_a_call_deaf_to_its_goodbye_is_hung_up(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    monkeypatch.setattr(drain, "GOODBYE_SECONDS", 0.2)
    services = _services(tmp_path, grace=0.1)
    call = Call(services.live_calls, "c1", hears_goodbye=False)
    await asyncio.wait_for(drain.drain_calls(services), 5)
    assert len(call.goodbyes) == 1 and call.hang_ups == [EndReason.SERVER_SHUTDOWN]
