"""uvicorn's HTTP protocol as Switchboard runs it (``http_protocol_options``).

- **A bound on the request head** (request line + headers). uvicorn bounds it only for its
  h11 parser (``h11_max_incomplete_event_size``); with httptools (the faster parser, used
  when installed) a client could send megabytes of headers. ``BoundedHttpToolsProtocol``
  (``server/http_protocol_httptools.py``) counts the bytes received while the head is
  still incomplete and answers 431 (then closes) past the limit, so memory per connection
  stays bounded whichever parser runs.
- **TCP_NODELAY on every connection.** asyncio sets it only on sockets whose ``proto`` is
  ``IPPROTO_TCP``; a listening socket made with ``socket.socket(AF_INET)`` (uvicorn's own
  with ``--workers``, or one passed in with ``sockets=``) has ``proto`` 0, so its
  connections kept Nagle's algorithm: a response written as head then body waited for the
  client's delayed ACK, ~40 ms per HTTP response (and small websocket frames could wait
  the same). Every connection now sets it when it is made, websockets included (they start
  as HTTP connections).

The protocol classes are module-level and read the bound from uvicorn's ``Config``
(``h11_max_incomplete_event_size``, which ``http_protocol_options`` sets): with
``--workers`` uvicorn pickles the config into each spawned worker process, and a class
made inside a function cannot be pickled (``switchboard serve --workers 2`` exited at
start-up when they were).
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

DEFAULT_MAX_HEADER_BYTES = 65_536
REFUSAL = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
    b"content-type: text/plain; charset=utf-8\r\n"
    b"content-length: 32\r\n"
    b"connection: close\r\n\r\n"
    b"request headers are too large.\r\n"
)


def no_delay(transport: asyncio.BaseTransport) -> None:
    """Send small writes at once (TCP_NODELAY) on a TCP connection; others are left alone."""
    sock = transport.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def http_protocol_options(max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES) -> dict[str, Any]:
    """uvicorn ``Config``/``run`` keyword arguments: the bounded request head and
    TCP_NODELAY, whichever parser runs."""
    try:
        import httptools  # noqa: F401
    except ImportError:  # httptools not installed: h11 with its own bound
        protocol: type[asyncio.Protocol] = NoDelayH11Protocol
    else:
        protocol = _bounded_httptools()
    return {"h11_max_incomplete_event_size": max_header_bytes, "http": protocol}


class NoDelayH11Protocol(H11Protocol):
    """uvicorn's h11 protocol (bounded by ``h11_max_incomplete_event_size``) with
    TCP_NODELAY."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        no_delay(transport)
        super().connection_made(transport)


def _bounded_httptools() -> type[asyncio.Protocol]:
    from server.http_protocol_httptools import BoundedHttpToolsProtocol

    return BoundedHttpToolsProtocol
