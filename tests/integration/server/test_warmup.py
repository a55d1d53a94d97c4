"""Start-up warm-up: what the first call would otherwise set up lazily is ready before it, and
readiness says when (``"warm": true``), so a load balancer or the benchmark can wait for it."""

from __future__ import annotations

import asyncio
import sys

import pytest

from pipeline import turn_models
from pipeline.providers import factory

pytestmark = pytest.mark.integration


async def test_readiness_reports_warm_once_the_first_call_has_nothing_left_to_load(client, server):
    for _ in range(600):  # the warm-up loads the speech models in a thread: seconds
        body = (await client.get("/health/ready")).json()
        if body.get("warm"):
            break
        await asyncio.sleep(0.1)
    assert body == {"status": "ok", "database": "ok", "warm": True}
    assert turn_models.loaded()  # Silero and Smart Turn sessions
    assert "openai.resources.audio.speech" in sys.modules  # one streamed TTS request ran
    # the HTTP TTS client of the server's loop exists: its TLS context is not the first call's
    shared = factory._shared_http
    assert shared is not None and shared[0] is server.task.get_loop() and not shared[1].is_closed
