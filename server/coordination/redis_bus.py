"""Call-control messages over Redis pub/sub, so a command reaches the instance that holds
the call's websocket wherever it was published.

Channel per call: ``switchboard:call:<id>``; messages are commands serialized by the
``COMMANDS`` adapter (a message that does not validate is dropped with a warning). One
pub/sub connection per instance, with a reader task dispatching to local handlers.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import structlog
from pydantic import ValidationError
from redis.asyncio import Redis
from redis.asyncio.client import PubSub

from server.calls.commands import COMMANDS, CallCommand
from server.coordination.bus import CommandHandler

log = structlog.get_logger(__name__)


class RedisBus:
    """``ControlBus`` backed by Redis pub/sub (see module docstring)."""

    def __init__(self, redis: Redis, prefix: str = "switchboard") -> None:
        self._redis = redis
        self._prefix = prefix
        self._handlers: dict[str, list[CommandHandler]] = {}
        self._pubsub: PubSub | None = None
        self._reader: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._running: set[asyncio.Task[None]] = set()

    def _channel(self, call_id: str) -> str:
        return f"{self._prefix}:call:{call_id}"

    async def publish(self, call_id: str, command: CallCommand) -> int:
        """Publish; returns how many instances were subscribed to the call."""
        return int(await self._redis.publish(self._channel(call_id), COMMANDS.dump_json(command)))

    async def subscribe(self, call_id: str, handler: CommandHandler) -> Callable[[], Awaitable[None]]:
        async with self._lock:
            if self._pubsub is None:
                self._pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            first = call_id not in self._handlers
            self._handlers.setdefault(call_id, []).append(handler)
            if first:
                await self._pubsub.subscribe(self._channel(call_id))
            if self._reader is None or self._reader.done():
                self._reader = asyncio.create_task(self._read(), name="redis-bus-reader")

        async def unsubscribe() -> None:
            async with self._lock:
                handlers = self._handlers.get(call_id, [])
                if handler in handlers:
                    handlers.remove(handler)
                if not handlers and call_id in self._handlers:
                    del self._handlers[call_id]
                    if self._pubsub is not None:
                        await self._pubsub.unsubscribe(self._channel(call_id))

        return unsubscribe

    async def _read(self) -> None:
        assert self._pubsub is not None
        prefix = f"{self._prefix}:call:"
        while True:
            try:
                message = await self._pubsub.get_message(timeout=1.0)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("redis_bus_read_failed")
                await asyncio.sleep(0.5)
                continue
            if message is None:
                if not self._handlers:
                    await asyncio.sleep(0.05)
                continue
            channel = message.get("channel")
            channel = channel.decode() if isinstance(channel, bytes) else str(channel)
            try:
                command = COMMANDS.validate_json(message["data"])
            except (ValidationError, ValueError, TypeError):
                log.warning("redis_bus_bad_message", channel=channel)
                continue
            call_id = channel.removeprefix(prefix)
            for handler in list(self._handlers.get(call_id, ())):
                # handlers may call carrier APIs: never let one call's command hold up the rest
                task = asyncio.create_task(self._dispatch(handler, command, call_id))
                self._running.add(task)
                task.add_done_callback(self._running.discard)

    @staticmethod
    async def _dispatch(handler: CommandHandler, command: CallCommand, call_id: str) -> None:
        try:
            await handler(command)
        except Exception:
            log.exception("control_handler_failed", call_id=call_id)

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
            self._reader = None
        if self._pubsub is not None:
            await self._pubsub.aclose()
            self._pubsub = None
