"""pipecat's bounded-send websocket connection, with its bound on the loop's shared timer.

pipecat's ``_BoundedConnection`` (``pipecat.services.websocket_service``) bounds every send
with ``asyncio.timeout(send_timeout)``, so a peer that stops reading drops the connection
instead of stalling the call; a speech service sends one audio message per 20 ms, and each
``asyncio.timeout`` arms and cancels a uvloop timer (a libuv handle per send: 43 µs per send
against 30 µs with the shared timer; BENCHMARKS.md, issue 15 step 7).
``SharedTimerConnection`` keeps the bound and what happens when it passes — the transport
aborted, the send failing the way a dropped connection does — and puts the deadline on the
loop's one shared timer (``pipeline.wait_for.SharedTimeout``). The speech services built
by the provider factory connect with it (``pipeline.providers.guarded``).
"""

from __future__ import annotations

import asyncio
from typing import Any

from loguru import logger
from pipecat.services.websocket_service import _BoundedConnection
from websockets.asyncio.client import ClientConnection

from pipeline.wait_for import SharedTimeout


class SharedTimerConnection(_BoundedConnection):
    """``_BoundedConnection`` whose send bound uses the shared timer."""

    async def send(self, *args: Any, **kwargs: Any) -> None:
        if self.send_timeout is None:
            await ClientConnection.send(self, *args, **kwargs)
            return
        bound = SharedTimeout(self.send_timeout)
        try:
            async with bound:
                await ClientConnection.send(self, *args, **kwargs)
        except TimeoutError as e:
            if not bound.expired():
                raise
            # as pipecat's _BoundedConnection.send: drop the connection with its unsent
            # data; connection_lost() marks it closed (1006) on the next loop iteration
            peer = self.request.headers["Host"] if self.request else self.remote_address
            logger.warning(
                f"Websocket send to {peer} did not complete within {self.send_timeout}s; "
                "the peer has stopped reading, dropping the connection"
            )
            self.transport.abort()
            await asyncio.shield(self.connection_lost_waiter)
            raise self.protocol.close_exc from e
