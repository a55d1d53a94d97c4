"""Call commands (``server.calls.commands``: hang up, transfer, DTMF, ...) addressed to a
call id.

A call lives on the instance holding its websocket; anything that must reach it publishes
here. In-process: direct dispatch. Redis: pub/sub on ``switchboard:call:<id>``, each command
serialized by the one ``COMMANDS`` adapter.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Protocol

import structlog

from server.calls.commands import CallCommand

log = structlog.get_logger(__name__)

CommandHandler = Callable[[CallCommand], Awaitable[None]]


class ControlBus(Protocol):
    async def publish(self, call_id: str, command: CallCommand) -> int:
        """Deliver ``command`` to the call's handlers; returns how many received it."""
        ...

    async def subscribe(self, call_id: str, handler: CommandHandler) -> Callable[[], Awaitable[None]]:
        """Register a handler; returns an async unsubscribe callable."""
        ...


class InProcessBus:
    def __init__(self) -> None:
        self._handlers: dict[str, list[CommandHandler]] = {}

    async def publish(self, call_id: str, command: CallCommand) -> int:
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
