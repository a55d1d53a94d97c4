"""Every connection the server accepts sends small writes at once (TCP_NODELAY), even on a
listening socket whose ``proto`` is 0 (uvicorn's own with ``--workers``, or one passed in
with ``sockets=``): asyncio sets it only when ``proto`` is IPPROTO_TCP, and without it
each response written as head then body waited ~40 ms for the client's delayed ACK."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import httpx
import uvicorn

from server.http_protocol import http_protocol_options


async def _app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


async def _nodelay_of_connections(**options: Any) -> list[int]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)  # proto 0, as uvicorn makes it
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(_app, log_config=None, lifespan="off", **options))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            await asyncio.sleep(0.01)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            assert (await http.get("/")).text == "ok"
            return [
                connection.transport.get_extra_info("socket").getsockopt(
                    socket.IPPROTO_TCP, socket.TCP_NODELAY)
                for connection in server.server_state.connections
            ]  # fmt: skip
    finally:
        server.should_exit = True
        await task
        sock.close()


async def test_connections_on_a_proto_0_socket_set_tcp_nodelay() -> None:
    flags = await _nodelay_of_connections(**http_protocol_options())
    assert flags and all(flags), flags


async def test_a_whole_request_in_one_read_is_not_counted_as_its_head() -> None:
    # a 100 KB body arriving in the same read as its head was answered 431 "request headers
    # are too large" (the chunk ended after the request, which reset the count to "in a head")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(_app, log_config=None, lifespan="off",
                                           **http_protocol_options()))  # fmt: skip
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            await asyncio.sleep(0.01)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            for size in (70_000, 100_000, 200_000):
                response = await http.post("/", content=b"a" * size)
                assert (response.status_code, response.text) == (200, "ok"), size
            too_big = await http.get("/", headers={"x-big": "a" * 70_000})
            assert too_big.status_code == 431
    finally:
        server.should_exit = True
        await task
        sock.close()


async def test_without_the_options_such_a_connection_keeps_nagle() -> None:
    # what the options fix: plain uvicorn on the same socket leaves Nagle's algorithm on
    assert await _nodelay_of_connections() == [0]
