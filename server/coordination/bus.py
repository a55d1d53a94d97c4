"""Call-control messages (hang up, transfer, DTMF, live events) addressed to a call id.

A call lives on the instance holding its websocket; anything that must reach it publishes
here. In-process: direct dispatch. Redis: pub/sub on ``switchboard:call:<id>``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import structlog

log = structlog.get_logger(__name__)

CommandHandler = Callable[[dict[str, Any]], Awaitable[None]]


class ControlBus(Protocol):
    async def publish(self, call_id: str, command: dict[str, Any]) -> int:
        """Deliver ``command`` to the call's handlers; returns how many received it."""
        ...

    async def subscribe(self, call_id: str, handler: CommandHandler) -> Callable[[], Awaitable[None]]:
        """Register a handler; returns an async unsubscribe callable."""
        ...


class InProcessBus:
    def __init__(self) -> None:
        self._handlers: dict[str, list[CommandHandler]] = {}

    async def publish(self, call_id: str, command: dict[str, Any]) -> int:
        handlers = list(self._handlers.get(call_id, ()))
        for handler in handlers:
            try:
                await handler(command)
            except Exception:
                log.exception("control_handler_failed", call_id=call_id)
        return len(handlers)

    async def subscribe(self, call_id: str, handler: CommandHandler) -> Callable[[], Awaitable[None]]:
        self._handlers.setdefault(call_id, []).append(handler)

        async def unsubscribe() -> None:
            handlers = self._handlers.get(call_id, [])
            if handler in handlers:
                handlers.remove(handler)
            if not handlers:
                self._handlers.pop(call_id, None)
            await asyncio.sleep(0)

        return unsubscribe
