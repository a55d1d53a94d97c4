"""Speech-to-text services that connect to their provider while the call starts.

pipecat's Deepgram services (Flux and Nova) open their websocket in ``setup()``, and a
processor holds the call's ``StartFrame`` until its setup is done: the agent's greeting
waited for the speech-to-text handshake (TCP, TLS and the websocket upgrade to the
provider: one to three round trips over the internet), although the greeting needs
nothing from it. ``BackgroundConnectSTTMixin`` starts that first connect in a task of the
processor's own and lets setup finish; the greeting is synthesized and played while the
handshake runs.

Caller audio that arrives before the connect is done is held (up to ``HELD_SECONDS``, the
oldest dropped past that) and sent, in order, ahead of the next frame once it is: a caller
who says "hello?" as the call connects is heard. A connect that raises is reported as
pipecat reports a setup failure (a permanent error, which a failover stage acts on), and a
disconnect (the call ending, a reconnect) cancels a connect still under way first, so no
socket opens after its call has gone. Later connects (reconnects) are pipecat's, unchanged.
Once the first connect is done, ``run_stt`` hands each frame straight to the service's
own (one attribute check per frame).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncGenerator
from typing import Any

from pipecat.frames.frames import Frame
from pipecat.processors.frame_processor import FrameProcessorSetup
from pipecat.services.stt_service import STTService

#: Caller audio held while the first connect runs, in seconds (past it, the oldest goes).
HELD_SECONDS = 5.0


class BackgroundConnectSTTMixin(STTService):
    """For pipecat STT services that connect in ``setup()``: connect behind the start."""

    _defer_connect = False
    _connecting: asyncio.Task[None] | None = None
    _held: list[bytes] | None = None
    _held_bytes = 0

    async def setup(self, setup: FrameProcessorSetup) -> None:
        self._defer_connect = True
        try:
            await super().setup(setup)
        finally:
            self._defer_connect = False

    async def _connect(self) -> None:
        if not self._defer_connect:
            await super()._connect()  # type: ignore[misc]
            return
        self._defer_connect = False
        self._held, self._held_bytes = [], 0
        self._connecting = self.create_task(self._first_connect(), f"{self}::connect")

    async def _first_connect(self) -> None:
        try:
            await super()._connect()  # type: ignore[misc]
        except Exception as e:  # what pipecat's setup does with a processor that raised
            await self.push_error(f"Error setting up processor: {e}", exception=e,
                                  force_treat_as_permanent=True)  # fmt: skip

    async def _disconnect(self) -> None:
        task, self._connecting = self._connecting, None
        self._held = None
        if task is not None and not task.done() and task is not asyncio.current_task():
            await self.cancel_task(task)
        await super()._disconnect()  # type: ignore[misc]

    def run_stt(self, audio: bytes) -> AsyncGenerator[Frame | None, None]:
        if self._held is None:
            return super().run_stt(audio)
        return self._run_stt_connecting(audio)

    async def _run_stt_connecting(self, audio: bytes) -> AsyncGenerator[Frame | None, None]:
        task, held = self._connecting, self._held
        if held is not None and task is not None and not task.done():
            held.append(audio)
            self._held_bytes += len(audio)
            limit = int(HELD_SECONDS * self.sample_rate * 2)
            while self._held_bytes > limit and len(held) > 1:
                self._held_bytes -= len(held.pop(0))
            yield None
            return
        self._held, self._held_bytes = None, 0
        for chunk in [*(held or ()), audio]:
            async for frame in super().run_stt(chunk):
                yield frame


@functools.cache
def background_connect(cls: type[Any]) -> type[Any]:
    """``cls`` with ``BackgroundConnectSTTMixin``; same name (usage is attributed to a
    provider by its service's class name: ``pipeline/observers/usage.py``)."""
    return type(cls.__name__, (BackgroundConnectSTTMixin, cls), {"__qualname__": cls.__qualname__})
