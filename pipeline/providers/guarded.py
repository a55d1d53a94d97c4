"""Speech services that connect to a tenant-chosen base URL through the egress policy.

An organization's stored credential may carry its own ``base_url`` (a self-hosted model, a
proxy). Those connections are checked when made, not only when the URL was saved, since
DNS can change in between (``runtime/egress.py``):

* websocket services (Deepgram Flux and Aura, ElevenLabs, Cartesia) resolve the host once,
  refuse a non-public address and open the socket to the checked address, with the
  handshake's Host header, TLS SNI and certificate check on the original name;
* OpenAI TTS speaks HTTP through ``EgressPolicy.openai_http_client()`` (same guarantees);
* Deepgram Nova STT goes through Deepgram's SDK, which opens its websocket itself and takes
  no socket or address: the URL is resolved and checked right before every (re)connect,
  and the SDK then resolves the name again. Residual gap: a DNS answer that changes
  between those two lookups (TTL 0 rebinding, a window of milliseconds) can still send
  the websocket handshake, with the organization's own key, to a non-public address.
  Use Deepgram Flux or the default endpoint where that matters.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from runtime.egress import WEBSOCKET_SCHEMES, EgressPolicy

T = TypeVar("T")


class EgressWebsocketMixin:
    """For pipecat ``WebsocketService`` subclasses: connect through ``_egress_policy``."""

    _egress_policy: EgressPolicy | None = None

    async def _websocket_connect(self, uri: str, **kwargs: Any) -> Any:
        if self._egress_policy is not None:
            uri, route = await self._egress_policy.websocket_route(uri)
            kwargs.update(route)
        return await super()._websocket_connect(uri, **kwargs)  # type: ignore[misc]


@functools.cache
def _guarded_class(cls: type[Any]) -> type[Any]:
    # Same name as the service: pipecat names processors after their class, and usage is
    # attributed to providers by that name (pipeline/observers/usage.py).
    return type(cls.__name__, (EgressWebsocketMixin, cls), {"__qualname__": cls.__qualname__})


def guarded_websocket_service(cls: type[T], policy: EgressPolicy | None, **kwargs: Any) -> T:
    """``cls(**kwargs)``, connecting through ``policy`` when one is given."""
    if policy is None:
        return cls(**kwargs)
    service = _guarded_class(cls)(**kwargs)
    service._egress_policy = policy
    return service  # type: ignore[no-any-return]


def check_deepgram_sdk_connects(service: Any, policy: EgressPolicy, ws_url: str) -> None:
    """Check ``ws_url`` before every connect of a pipecat ``DeepgramSTTService``'s SDK client
    (see the module docstring for the gap that remains)."""
    v1 = service._client.listen.v1
    connect = v1.connect

    @asynccontextmanager
    async def checked_connect(**kwargs: Any) -> AsyncIterator[Any]:
        await policy.check_url(ws_url, schemes=WEBSOCKET_SCHEMES)
        async with connect(**kwargs) as connection:
            yield connection

    v1.connect = checked_connect
