"""What every interactive caller's media websocket shares: a sender task that hands out one
20 ms frame per tick of an absolute :class:`FrameClock`, a receiver task, and how much of
the bot's audio was speech."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from loadgen.audio import rms
from loadgen.pacing import FrameClock

#: int16 RMS above which a 20 ms window of bot audio counts as speech.
SPEECH_RMS = 300.0


def voiced_seconds(pcm: bytes, sample_rate: int, threshold: float = SPEECH_RMS) -> float:
    """Seconds of 16-bit ``pcm`` in 20 ms windows whose RMS is above ``threshold``."""
    window = sample_rate // 50 * 2
    loud = sum(1 for i in range(0, len(pcm) - window + 1, window) if rms(pcm[i : i + window]) > threshold)
    return loud * 0.020


class RealtimeMediaSocket:
    """A media websocket driven in real time. Subclasses build each outgoing frame's message
    (``_next_message``) and handle each incoming one (``_on_message``)."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self._tasks: list[asyncio.Task[Any]] = []

    def _start_tasks(self) -> None:
        self._tasks = [asyncio.create_task(self._send_loop()), asyncio.create_task(self._receive_loop())]

    def _next_message(self, index: int) -> str | bytes:
        """The message carrying frame ``index`` (speech when some is queued, else silence)."""
        raise NotImplementedError

    async def _after_send(self) -> None:
        """Called after each frame (Twilio echoes due ``mark``s here)."""

    async def _on_message(self, message: str | bytes) -> None:
        raise NotImplementedError

    def _on_closed(self) -> None:
        """Called once the server's side of the socket has closed."""

    async def _send_loop(self) -> None:
        clock = FrameClock(time.monotonic())
        with contextlib.suppress(ConnectionClosed):
            while True:
                await self.ws.send(self._next_message(clock.index))
                clock.record_sent()
                await self._after_send()
                await clock.wait_next()

    async def _receive_loop(self) -> None:
        try:
            async for message in self.ws:
                await self._on_message(message)
        finally:
            self._on_closed()

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        with contextlib.suppress(Exception):
            await self.ws.close()
        for task in self._tasks:
            with contextlib.suppress(BaseException):
                await task
