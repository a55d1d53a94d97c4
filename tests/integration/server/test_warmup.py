"""Start-up warm-up: what the first call would otherwise set up lazily is ready before it, and
readiness says when (``"warm": true``), so a load balancer or the benchmark can wait for it."""

from __future__ import annotations

import asyncio
import sys

import pytest

from pipeline import turn_models
from runtime.egress_aiohttp import shared_aiohttp

pytestmark = pytest.mark.integration


async def test_readiness_reports_warm_once_the_first_call_has_nothing_left_to_load(client, server):
    for _ in range(600):  # the warm-up loads the speech models in a thread: seconds
        body = (await client.get("/health/ready")).json()
        if body.get("warm"):
            break
        await asyncio.sleep(0.1)
    assert body == {"status": "ok", "database": "ok", "warm": True}
    assert turn_models.loaded()  # Silero and Smart Turn sessions
    assert "anyio._backends._asyncio" in sys.modules  # the LLM client's first connection needs it
    # the HTTP TTS sessions of the server's loop exist (the operator's endpoint and tenants'
    # through the policy): their TLS contexts and pools are not the first call's
    for policy in (None, server.services.egress):
        http = shared_aiohttp(policy)
        assert http._loop is server.task.get_loop()
        assert http._session is not None and not http._session.closed
