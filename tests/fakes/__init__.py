"""Fake provider servers on 127.0.0.1 that speak the providers' real wire protocols.

Each fake is an async context manager serving on a random free loopback port::

    async with FakeDeepgram() as dg:
        stt = DeepgramSTTService(api_key="k", base_url=dg.ws_url)

``LoopbackServer`` is the shared aiohttp plumbing; the helpers below convert 16-bit mono
PCM between rates and measure its energy.
"""

from __future__ import annotations

from types import TracebackType
from typing import Self

import numpy as np
from aiohttp import web


class LoopbackServer:
    """An aiohttp application on 127.0.0.1:<random port>, started/stopped as a context."""

    def __init__(self) -> None:
        self.app = web.Application()
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    async def start(self) -> Self:
        self._runner = web.AppRunner(self.app, handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
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


def resample_pcm(pcm: bytes, from_rate: int, to_rate: int) -> bytes:
    """Linear-interpolation resampling of 16-bit mono PCM (good enough for a fake)."""
    if from_rate == to_rate or not pcm:
        return pcm
    samples = np.frombuffer(pcm, dtype=np.int16).astype(np.float32)
    count = max(1, int(len(samples) * to_rate / from_rate))
    positions = np.linspace(0, len(samples) - 1, count)
    out = np.interp(positions, np.arange(len(samples)), samples)
    return np.clip(out, -32768, 32767).astype(np.int16).tobytes()


def rms(pcm: bytes) -> float:
    """Root-mean-square amplitude of 16-bit mono PCM (0 for empty input)."""
    if len(pcm) < 2:
        return 0.0
    samples = np.frombuffer(pcm[: len(pcm) - len(pcm) % 2], dtype=np.int16).astype(np.float32)
    return float(np.sqrt(np.mean(samples * samples)))

