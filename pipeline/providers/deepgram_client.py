"""The Deepgram SDK client inside pipecat's Nova service, without an HTTP stack of its own.

pipecat's ``DeepgramSTTService`` builds an ``AsyncDeepgramClient`` per service, so per
call, and the SDK gives each client a new ``httpx.AsyncClient``: a new TLS context whose
CA bundle is parsed on the event loop (``load_verify_locations``: 46 ms of CPU on this
project's slow benchmark machine, during which no call's audio moves), and an unchecked
HTTP client (it follows redirects to any host). Live transcription never uses it: the
SDK's ``listen.v1.connect`` opens a websocket with ``websockets``, which
``pipeline/providers/guarded.py`` routes through the egress policy.

``install_sdk_client()`` has pipecat build the client with an ``httpx.AsyncClient`` whose
transport refuses every request (no TLS context, no environment proxies read): nothing
is spent per call on an HTTP client no call uses, and a REST request made through it by
some future code path fails loudly instead of leaving the server unchecked.
"""

from __future__ import annotations

import importlib
from typing import Any

import httpx


class NoRestTransport(httpx.AsyncBaseTransport):
    """An httpx transport that sends nothing."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(
            f"the Deepgram SDK's REST client is not used by calls (refused {request.url})",
            request=request,
        )


def no_rest_client() -> httpx.AsyncClient:
    """The HTTP client handed to each ``AsyncDeepgramClient`` (cheap: no TLS context)."""
    return httpx.AsyncClient(transport=NoRestTransport(), trust_env=False, follow_redirects=False)


def install_sdk_client() -> None:
    """Have ``pipecat.services.deepgram.stt`` build its SDK clients with ``no_rest_client``
    (once; the SDK's ``httpx_client`` argument, so the client is otherwise unchanged)."""
    module = importlib.import_module("pipecat.services.deepgram.stt")
    original = module.AsyncDeepgramClient
    if getattr(original, "_no_rest", False):
        return

    def client(*args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("httpx_client", no_rest_client())
        return original(*args, **kwargs)

    client._no_rest = True  # type: ignore[attr-defined]
    module.AsyncDeepgramClient = client
