"""uvicorn's HTTP protocol as Switchboard runs it (``http_protocol_options``).

- **A bound on the request head** (request line + headers). uvicorn bounds it only for its
  h11 parser (``h11_max_incomplete_event_size``); with httptools (the faster parser, used
  when installed) a client could send megabytes of headers. ``BoundedHttpToolsProtocol``
  counts the bytes received while the head is still incomplete and answers 431 (then
  closes) past the limit, so memory per connection stays bounded whichever parser runs.
- **TCP_NODELAY on every connection.** asyncio sets it only on sockets whose ``proto`` is
  ``IPPROTO_TCP``; a listening socket made with ``socket.socket(AF_INET)`` (uvicorn's own
  with ``--workers``, or one passed in with ``sockets=``) has ``proto`` 0, so its
  connections kept Nagle's algorithm: a response written as head then body waited for the
  client's delayed ACK, ~40 ms per HTTP response (and small websocket frames could wait
  the same). Every connection now sets it when it is made, websockets included (they start
  as HTTP connections).
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any

DEFAULT_MAX_HEADER_BYTES = 65_536
_REFUSAL = (
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
    options: dict[str, Any] = {"h11_max_incomplete_event_size": max_header_bytes}
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError:  # httptools not installed: h11 with its own bound
        from uvicorn.protocols.http.h11_impl import H11Protocol

        class NoDelayH11Protocol(H11Protocol):
            def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
                no_delay(transport)
                super().connection_made(transport)

        options["http"] = NoDelayH11Protocol
        return options

    class BoundedHttpToolsProtocol(HttpToolsProtocol):
        """httptools, refusing a request head larger than ``max_header_bytes``: a head that
        completes is measured by its URL and headers; one still incomplete after a read, by
        the bytes received (httptools buffers them until the head ends)."""

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            no_delay(transport)
            super().connection_made(transport)

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._received = 0  # bytes of reads that ended with the head still incomplete
            self._head_size = 0  # the URL and headers parsed so far
            self._in_head = True
            self._head_ended = False  # a head completed during the read being parsed
            self._refused = False

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._in_head, self._received, self._head_size = True, 0, 0

        def on_url(self, url: bytes) -> None:
            self._head_size += len(url)
            super().on_url(url)

        def on_header(self, name: bytes, value: bytes) -> None:
            self._head_size += len(name) + len(value) + 4  # ": " and CRLF
            super().on_header(name, value)

        def on_headers_complete(self) -> None:
            self._in_head, self._head_ended = False, True
            if self._head_size > max_header_bytes:
                self._refused = True  # never dispatched; answered after this read
                return
            super().on_headers_complete()

        def on_body(self, body: bytes) -> None:
            if not self._refused:
                super().on_body(body)

        def on_message_complete(self) -> None:
            if self._refused:
                return
            super().on_message_complete()
            self._in_head, self._received, self._head_size = True, 0, 0  # the next head

        def data_received(self, data: bytes) -> None:
            if self._refused:
                return
            counting, self._head_ended = self._in_head, False
            super().data_received(data)
            # a read holding a whole request ends "in the head" of the next one: its bytes
            # are counted only when no head ended in it
            if counting and self._in_head and not self._head_ended:
                self._received += len(data)
                self._refused = self._received > max_header_bytes
            if self._refused:
                self.transport.write(_REFUSAL)
                self.transport.close()

    options["http"] = BoundedHttpToolsProtocol
    return options
