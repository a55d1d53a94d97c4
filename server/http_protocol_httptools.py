"""The httptools protocol with a bound on the request head (``server.http_protocol``
explains both; this module imports httptools, which is optional)."""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from server.http_protocol import DEFAULT_MAX_HEADER_BYTES, REFUSAL, no_delay


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """httptools, refusing a request head larger than the config's
    ``h11_max_incomplete_event_size``: a head that completes is measured by its URL and
    headers; one still incomplete after a read, by the bytes received (httptools buffers
    them until the head ends)."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        no_delay(transport)
        super().connection_made(transport)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._max_head = self.config.h11_max_incomplete_event_size or DEFAULT_MAX_HEADER_BYTES
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
        if self._head_size > self._max_head:
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
            self._refused = self._received > self._max_head
        if self._refused:
            self.transport.write(REFUSAL)
            self.transport.close()

