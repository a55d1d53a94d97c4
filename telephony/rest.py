"""Carrier REST requests with failures as ``CarrierApiError`` (a stable code; the upstream
detail is kept for logs and never shown to a client: it can tell open from closed ports)."""

from __future__ import annotations

from typing import Any

import httpx

from telephony.contract import CarrierApiError, HttpClientFactory, plain_client

TIMEOUT_SECONDS = 10.0


async def send(method: str, url: str, *, client: HttpClientFactory = plain_client,
               **kwargs: Any) -> httpx.Response:
    """One request (``kwargs`` as for ``httpx.AsyncClient.request``) on a client made by
    ``client``; transport failures and refused destinations become
    ``CarrierApiError("carrier_unreachable")``. No redirects are followed."""
    try:
        async with client(timeout=TIMEOUT_SECONDS) as http:
            return await http.request(method, url, **kwargs)
    except Exception as exc:  # noqa: BLE001 - httpx errors, and the egress policy's refusal
        # (the server's client refuses non-public addresses with its own exception type):
        # every failure to get a response is "unreachable"; the detail is for logs only
        raise CarrierApiError("carrier_unreachable", f"{type(exc).__name__}: {exc}") from None


def check(response: httpx.Response) -> httpx.Response:
    """``response`` when 2xx, else ``CarrierApiError`` (auth failed / rejected)."""
    if response.is_success:
        return response
    code = "carrier_auth_failed" if response.status_code in (401, 403) else "carrier_rejected"
    raise CarrierApiError(code, f"HTTP {response.status_code}: {response.text[:200]}", response.status_code)


def json_of(response: httpx.Response) -> Any:
    """The JSON body of a successful response ({} when empty); ``CarrierApiError`` when it
    is not JSON."""
    if not response.content:
        return {}
    try:
        return response.json()
    except ValueError:
        raise CarrierApiError("carrier_rejected", "response is not JSON", response.status_code) from None
