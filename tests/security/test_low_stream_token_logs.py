"""Low finding: stream tokens were written to the logs by uvicorn's websocket access line
(``'%s - "WebSocket %s" [accepted]'`` on ``uvicorn.error``, path with its query string),
and a carrier's media URL carries its single-use stream token in the query (Exotel).

A real uvicorn server with the server's logging accepts a websocket whose query holds a
token; no log line may contain it, while the path itself is still logged."""

from __future__ import annotations

import asyncio
import logging
import socket

import pytest
import uvicorn
import websockets
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket

from server.log_config import configure_logging
from tests.conftest import make_settings

pytestmark = pytest.mark.integration

TOKEN = "st_secret-stream-token-0123456789"


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


async def accept(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.close()


async def test_websocket_access_line_never_holds_the_query(database_url, data_dir):
    configure_logging(make_settings(database_url, data_dir, log_level="info"))
    collect = Collect()
    logging.getLogger().addHandler(collect)
    app = Starlette(routes=[WebSocketRoute("/telephony/exotel/stream", accept)])
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            await asyncio.sleep(0.02)
        uri = f"ws://127.0.0.1:{port}/telephony/exotel/stream?token={TOKEN}"
        async with websockets.connect(uri) as ws:
            await ws.wait_closed()
        await asyncio.sleep(0.1)
    finally:
        server.should_exit = True
        await task
        sock.close()
        logging.getLogger().removeHandler(collect)
        configure_logging(make_settings(database_url, data_dir))
    websocket_lines = [line for line in collect.lines if "WebSocket" in line]
    assert websocket_lines, collect.lines  # the access line is still logged...
    assert all("/telephony/exotel/stream" in line for line in websocket_lines)
    assert not [line for line in collect.lines if TOKEN in line]  # ...without the token
