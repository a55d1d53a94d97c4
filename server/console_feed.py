"""Wake-ups for the console's live event stream (``GET /api/v1/calls/events``, SSE).

A call starting or stopping on any instance wakes every stream at once: this instance's
live-call registry (``LiveCalls.listen``) signals local streams directly and, with Redis,
publishes on ``<prefix>:console:calls`` so the other instances' streams wake too. A wake-up
carries no data: each stream then reads its own organization's calls from PostgreSQL
(org-scoped, ``db/live_feed.py``) and sends what changed, so nothing crosses tenants here.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import structlog

if TYPE_CHECKING:
    from redis.asyncio.client import PubSub

    from server.services import Services

log = structlog.get_logger(__name__)


class ConsoleFeed:
    def __init__(self, services: Services) -> None:
        self._services = services
        self._waiters: set[asyncio.Event] = set()
        self._channel = f"{services.settings.redis_prefix}:console:calls"
        self._stop_listening: Callable[[], None] | None = None
        self._reader: asyncio.Task[None] | None = None
        self._pubsub: PubSub | None = None

    @property
    def streams(self) -> int:
        """Open streams on this instance."""
        return len(self._waiters)

    async def start(self) -> None:
        self._stop_listening = self._services.live_calls.listen(self._local_change)
        if self._services.redis is not None:
            self._pubsub = self._services.redis.pubsub(ignore_subscribe_messages=True)
            try:
                await self._pubsub.subscribe(self._channel)
            except Exception:  # non-critical: streams still re-read every few seconds
                log.warning("console_feed_subscribe_failed")
                return
            self._reader = asyncio.create_task(self._read(), name="console-feed")

    async def close(self) -> None:
        if self._stop_listening:
            self._stop_listening()
        if self._reader:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        if self._pubsub is not None:
            with contextlib.suppress(Exception):
                await self._pubsub.aclose()
        self.wake()

    @contextlib.contextmanager
    def waiter(self) -> Iterator[asyncio.Event]:
        """An event set on every wake-up while the ``with`` block runs (one per stream)."""
        event = asyncio.Event()
        self._waiters.add(event)
        try:
            yield event
        finally:
            self._waiters.discard(event)

    def wake(self) -> None:
        for event in self._waiters:
            event.set()

    def _local_change(self, _call_id: str) -> None:
        self.wake()
        if self._services.redis is not None:
            self._services.spawn(self._publish(), name="console-feed-publish")

    async def _publish(self) -> None:
        try:
            await self._services.redis.publish(self._channel, b"1")  # type: ignore[union-attr]
        except Exception:
            log.warning("console_feed_publish_failed")

    async def _read(self) -> None:
        assert self._pubsub is not None
        while True:
            try:
                message = await self._pubsub.get_message(timeout=5.0)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("console_feed_read_failed")
                await asyncio.sleep(1.0)
                continue
            if message is not None:
                self.wake()


async def start_console_feed(services: Services) -> ConsoleFeed:
    """Start this instance's feed (app start-up); ``close`` it on shut-down."""
    feed = ConsoleFeed(services)
    await feed.start()
    return feed
