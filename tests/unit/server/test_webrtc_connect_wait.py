"""A browser call waits for its peer to connect; an ICE restart (``restart_pc``) closes the old
peer connection before the new one exists, and that "closed" must not end the call (the
renegotiation test failed under load: the wait saw the old connection closed, ended the call
as never connected and the next PATCH of the restarted peer got a 404)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from uuid import uuid4

from pipeline.call_runner import CallControl
from server.calls.webrtc import Peer, _connected


def _peer(state: str, *, renegotiating: bool = False) -> Peer:
    connection = SimpleNamespace(pc=SimpleNamespace(connectionState=state))
    return Peer(uuid4(), uuid4(), connection, renegotiating=renegotiating)  # type: ignore[arg-type]


async def test_a_closed_connection_ends_the_wait() -> None:
    assert await _connected(_peer("closed"), CallControl(), 5.0) is False


async def test_a_connection_closed_by_a_restart_is_waited_through() -> None:
    peer = _peer("closed", renegotiating=True)
    wait = asyncio.create_task(_connected(peer, CallControl(), 5.0))
    await asyncio.sleep(0.2)
    assert not wait.done()  # the old connection is closed, the renegotiation is under way
    peer.connection = SimpleNamespace(pc=SimpleNamespace(connectionState="connected"))  # type: ignore[assignment]
    peer.renegotiating = False
    assert await asyncio.wait_for(wait, 2.0) is True


async def test_the_wait_still_has_its_deadline_during_a_renegotiation() -> None:
    assert await _connected(_peer("closed", renegotiating=True), CallControl(), 0.2) is False
