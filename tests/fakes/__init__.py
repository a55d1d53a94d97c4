"""Fake provider servers on 127.0.0.1 that speak the providers' real wire protocols.

Each fake is an async context manager serving on a random free loopback port::

    async with FakeDeepgram() as dg:
        stt = DeepgramSTTService(api_key="k", base_url=dg.ws_url)

``LoopbackServer`` is the shared aiohttp plumbing, including a timeline of provider events
(``mark``: when a request arrived, in the machine's monotonic clock). Several fakes can share
one port (``tests/fakes/providers.py``, what the benchmark runs as a process). Audio helpers
come from the caller toolkit, ``loadgen.audio``.
"""

from __future__ import annotations

import time
from collections import deque
from types import TracebackType
from typing import Self

from aiohttp import web


class LoopbackServer:
    """An aiohttp application on 127.0.0.1:<random port>, started/stopped as a context."""

    def __init__(self) -> None:
        self.app = web.Application()
        self._runner: web.AppRunner | None = None
        self.port = 0
        #: (time.monotonic(), kind) of each provider event ``mark``ed, oldest first.
        self.events: deque[tuple[float, str]] = deque(maxlen=200_000)

    def mark(self, kind: str) -> None:
        """Record that ``kind`` happened now (a request arrived, a turn ended, ...)."""
        self.events.append((time.monotonic(), kind))

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    async def start(self, port: int = 0) -> Self:
        self._runner = web.AppRunner(self.app, handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        server = site._server  # aiohttp exposes the bound socket only here
        assert server is not None and server.sockets
        self.port = server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()
