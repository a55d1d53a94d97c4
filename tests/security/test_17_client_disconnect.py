"""Finding 17: a client that disconnected mid-body was logged as an unhandled error (with a
traceback) and counted as a 500. It is a 499 in the access metrics and logs no error."""

from __future__ import annotations

import asyncio
import logging
from urllib.parse import urlsplit

import pytest

from server.metrics import HTTP_REQUESTS

pytestmark = pytest.mark.integration


def _count(status: str) -> float:
    return HTTP_REQUESTS.labels("POST", "/api/v1/auth/login", status)._value.get()


async def test_disconnect_mid_body_is_not_an_unhandled_error(server, caplog):
    caplog.set_level(logging.ERROR)
    before = _count("499")
    url = urlsplit(server.url)
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    writer.write(b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\n"
                 b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"email\":")
    await writer.drain()
    await asyncio.sleep(0.2)  # let the server start reading the body
    writer.close()
    async with asyncio.timeout(10):  # the server notices the disconnect and finishes
        while _count("499") == before and _count("500") == 0:
            await asyncio.sleep(0.05)
    assert _count("499") == before + 1
    assert _count("500") == 0
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, errors
