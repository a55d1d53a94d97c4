"""Drain: how an instance stops without dropping a call (SIGTERM, or the app's shutdown).

1. ``services.draining`` is set at once: readiness answers 503 and admission refuses new
   calls (the carrier gets its busy markup, WebRTC and the API a 503).
2. Live calls continue until they end or ``SHUTDOWN_GRACE_SECONDS`` passed; with none, the
   drain is over at once.
3. Each call still up then hears ``SHUTDOWN_GOODBYE`` and is ended as ``server_shutdown``
   (a browser is told over its data channel); a call whose goodbye does not finish within
   ``GOODBYE_SECONDS`` is hung up.

``drain_on_sigterm`` runs that before the HTTP server's own shutdown, which closes every
websocket (a carrier's media stream included) the moment it starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import threading
from collections.abc import Iterator
from types import FrameType
from typing import TYPE_CHECKING, Any

import structlog

from pipeline.events import EndReason

if TYPE_CHECKING:
    from server.services import Services

log = structlog.get_logger(__name__)
GOODBYE_SECONDS = 10.0  # a goodbye being spoken, at most; then the call is hung up
HANG_UP_SECONDS = 5.0  # calls hung up, at most, to finish (their rows are finalized)
POLL_SECONDS = 0.1


async def _until_ended(services: Services, seconds: float, *, reserved: bool = False) -> None:
    live = services.live_calls
    deadline = asyncio.get_running_loop().time() + seconds
    while asyncio.get_running_loop().time() < deadline:  # noqa: ASYNC110 - calls end elsewhere
        if not (live.count() if reserved else live.running):
            return
        await asyncio.sleep(POLL_SECONDS)


async def drain_calls(services: Services) -> None:
    """Refuse new calls, let live ones finish within the grace period, then end the rest
    with a spoken goodbye as ``server_shutdown``. Returns as soon as no call is live."""
    services.draining = True
    live = services.live_calls
    if live.count():
        log.info("draining_calls", live=len(live.running), admitted=live.count())
    # admitted calls whose media has not arrived count too: their stream may still come
    await _until_ended(services, services.settings.shutdown_grace_seconds, reserved=True)
    if not live.running:
        return
    log.info("ending_calls_for_shutdown", live=len(live.running))
    text = services.settings.shutdown_goodbye
    for call_id, control in list(live.running.items()):
        try:
            if text:
                await control.say_goodbye(text, EndReason.SERVER_SHUTDOWN)
            else:
                await control.hang_up(EndReason.SERVER_SHUTDOWN)
        except Exception:
            log.exception("shutdown_goodbye_failed", call_id=call_id)
    await _until_ended(services, GOODBYE_SECONDS)
    for call_id, control in list(live.running.items()):
        try:
            await control.hang_up(EndReason.SERVER_SHUTDOWN)
        except Exception:
            log.exception("shutdown_hang_up_failed", call_id=call_id)
    await _until_ended(services, HANG_UP_SECONDS)


@contextlib.contextmanager
def drain_on_sigterm(services: Services) -> Iterator[None]:
    """While the server runs, SIGTERM drains calls first (``drain_calls``), then hands the
    signal to the handler installed before (uvicorn's: close connections, run the app's
    shutdown). A second SIGTERM hands over at once."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    loop = asyncio.get_running_loop()
    previous = signal.getsignal(signal.SIGTERM)
    draining: list[asyncio.Task[None]] = []

    def hand_over(sig: int, frame: FrameType | None) -> None:
        if callable(previous):
            previous(sig, frame)
        elif previous != signal.SIG_IGN:
            signal.signal(sig, signal.SIG_DFL)
            os.kill(os.getpid(), sig)

    async def drain_then_exit(sig: int, frame: FrameType | None) -> None:
        try:
            await drain_calls(services)
        finally:
            log.info("drained", live=len(services.live_calls.running))
            hand_over(sig, frame)

    def start(sig: int, frame: FrameType | None) -> None:
        draining.append(loop.create_task(drain_then_exit(sig, frame), name="drain"))

    def on_sigterm(sig: int, frame: FrameType | None) -> Any:
        if draining or services.draining:
            hand_over(sig, frame)
            return
        services.draining = True  # readiness fails from this instant
        loop.call_soon_threadsafe(start, sig, frame)

    signal.signal(signal.SIGTERM, on_sigterm)
    try:
        yield
    finally:
        if signal.getsignal(signal.SIGTERM) is on_sigterm:
            signal.signal(signal.SIGTERM, previous)
