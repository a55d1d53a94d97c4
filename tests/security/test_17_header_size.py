"""Finding 17: `switchboard serve` accepted 10 MB of request headers (uvicorn bounds the head
only for h11, and picks httptools when installed). The served options refuse it."""

from __future__ import annotations

import asyncio
import contextlib
import socket

import pytest
import uvicorn

from server.app import create_app
from server.cli import build_parser
from server.http_protocol import http_protocol_options

pytestmark = pytest.mark.integration


@contextlib.asynccontextmanager
async def _serve(settings, **options):
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(create_app(settings), log_config=None, lifespan="on", **options)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        await asyncio.sleep(0.02)
    try:
        yield sock.getsockname()[1]
    finally:
        server.should_exit = True
        await task
        sock.close()


async def _send(port: int, header_bytes: int) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = b"GET /health/live HTTP/1.1\r\nHost: x\r\n"
    filler = b"X-Fill: " + b"a" * header_bytes + b"\r\n\r\n"
    answer = b""
    try:
        writer.write(head)
        for start in range(0, len(filler), 1 << 20):
            writer.write(filler[start:start + (1 << 20)])
            await writer.drain()
    except (ConnectionResetError, BrokenPipeError):
        pass  # refused mid-send: the status line may still be readable
    with contextlib.suppress(ConnectionResetError):
        answer = await asyncio.wait_for(reader.read(200), 30)
    writer.close()
    return answer


@pytest.mark.parametrize("parser", ["httptools", "h11"])
async def test_serve_refuses_huge_headers(settings, parser):
    serve_args = build_parser(["serve"]).parse_args(["serve"])
    options = http_protocol_options(serve_args.max_header_bytes)
    if parser == "h11":
        options["http"] = "h11"
    async with _serve(settings, **options) as port:
        refused = await _send(port, 10 * 1024 * 1024)
        # A 4xx status line, or (when the server closed on unread data) a reset connection;
        # never the route's answer.
        assert refused == b"" or refused.startswith((b"HTTP/1.1 400", b"HTTP/1.1 431")), (
            refused[:100])
        normal = await _send(port, 2_000)
        assert normal.startswith(b"HTTP/1.1 200"), normal[:100]


async def test_a_bound_set_on_the_command_line_holds(settings):
    """The bound travels in uvicorn's config (as it does into ``--workers`` processes)."""
    serve_args = build_parser(["serve"]).parse_args(["serve", "--max-header-bytes", "4096"])
    async with _serve(settings, **http_protocol_options(serve_args.max_header_bytes)) as port:
        refused = await _send(port, 8_000)
        assert refused == b"" or refused.startswith(b"HTTP/1.1 431"), refused[:100]
        normal = await _send(port, 2_000)
        assert normal.startswith(b"HTTP/1.1 200"), normal[:100]
