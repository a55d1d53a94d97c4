"""Speech-service websockets carry audio uncompressed, even to a server that offers
permessage-deflate (zlib on every 20 ms frame costs ~7x the send itself)."""

from __future__ import annotations

import pytest
from websockets.asyncio.server import serve

from pipeline.providers import StoredCredential, STTChoice, build_stt, resolve_credentials
from pipeline.providers.config import CLOUD_PROVIDERS
from server.settings import load_settings


def _operator_env(**values: str) -> object:
    blank = {f"{p}_{f}": "" for p in CLOUD_PROVIDERS for f in ("api_key", "base_url")}
    return load_settings(_env_file=None, **{**blank, **values})


async def _negotiated(stt: object, url: str) -> list[str]:
    ws = await stt._websocket_connect(url)  # type: ignore[attr-defined]
    try:
        return [type(e).__name__ for e in ws.protocol.extensions]
    finally:
        await ws.close()


@pytest.mark.parametrize("tenant_url", [False, True], ids=["operator endpoint", "tenant endpoint"])
async def test_flux_audio_websocket_is_not_deflated(tenant_url: bool, monkeypatch) -> None:
    offered: list[list[str]] = []

    async def handler(ws) -> None:
        offered.append([type(e).__name__ for e in ws.protocol.extensions])
        await ws.wait_closed()

    async with serve(handler, "127.0.0.1", 0) as server:  # accepts permessage-deflate by default
        url = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        if tenant_url:
            creds = resolve_credentials({"deepgram": StoredCredential("k", url)})
            monkeypatch.setattr(creds.deepgram.egress, "websocket_route", _direct, raising=False)
        else:
            creds = resolve_credentials({}, _operator_env(deepgram_api_key="k", deepgram_base_url=url))
        stt = build_stt(STTChoice(provider="deepgram-flux"), creds, sample_rate=8000)
        assert await _negotiated(stt, url + "/v2/listen") == []
    assert offered == [[]]


async def _direct(uri: str) -> tuple[str, dict]:
    return uri, {}  # the loopback fake is allowed here; the egress check has its own tests


async def test_a_send_to_a_peer_that_stopped_reading_drops_the_connection_on_the_shared_timer(
) -> None:
    """The send bound (pipecat's ``ws_send_timeout``) holds with the shared timer: a peer
    that stops reading drops the connection within the bound instead of stalling the call,
    and the send fails as a closed connection does (``pipeline/providers/bounded_send.py``)."""
    import asyncio

    from websockets.exceptions import ConnectionClosed

    from pipeline.providers.bounded_send import SharedTimerConnection

    async def handler(ws) -> None:
        ws.transport.pause_reading()  # a peer that has stopped reading
        await ws.wait_closed()

    async with serve(handler, "127.0.0.1", 0, close_timeout=0.5) as server:
        url = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        creds = resolve_credentials({}, _operator_env(deepgram_api_key="k", deepgram_base_url=url))
        stt = build_stt(STTChoice(provider="deepgram-flux"), creds, sample_rate=8000)
        ws = await stt._websocket_connect(url + "/v2/listen")  # type: ignore[attr-defined]
        assert isinstance(ws, SharedTimerConnection) and ws.send_timeout
        ws.send_timeout = 0.2
        await ws.send(b"\x00" * 320)  # a peer that reads or not: the first sends fit the buffers
        async with asyncio.timeout(30):  # a guard: without the bound this would never end
            with pytest.raises(ConnectionClosed):
                while True:
                    await ws.send(b"\x00" * 65536)
        assert ws.state.name == "CLOSED"
