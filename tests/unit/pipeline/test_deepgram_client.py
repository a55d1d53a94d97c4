"""pipecat's Nova service gets a Deepgram SDK client without an HTTP stack of its own
(pipeline/providers/deepgram_client.py): no TLS context built per call, no REST request
sent through it."""

from __future__ import annotations

import ssl

import httpx
import pytest

from pipeline.providers import StoredCredential, STTChoice, build_stt, resolve_credentials
from runtime.egress import EgressPolicy


def _nova() -> object:
    creds = resolve_credentials({"deepgram": StoredCredential(api_key="k", base_url="ws://127.0.0.1:9")},
                                egress=EgressPolicy(allow_private=True))  # fmt: skip
    return build_stt(STTChoice(provider="deepgram"), creds, sample_rate=8000)


def test_building_a_nova_service_builds_no_tls_context(monkeypatch: pytest.MonkeyPatch) -> None:
    _nova()  # imports and the SDK's one-time set-up
    built: list[object] = []
    original = ssl.create_default_context

    def counting(*args: object, **kwargs: object) -> ssl.SSLContext:
        built.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr(ssl, "create_default_context", counting)
    _nova()
    assert built == []


async def test_the_sdk_clients_rest_requests_are_refused() -> None:
    service = _nova()
    http = service._client._client_wrapper.httpx_client.httpx_client  # type: ignore[attr-defined]
    with pytest.raises(httpx.ConnectError, match="not used by calls"):
        await http.get("https://api.deepgram.com/v1/projects")
