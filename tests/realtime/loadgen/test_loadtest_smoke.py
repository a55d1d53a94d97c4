"""A short real run of the load generator: 2 calls against the bare-pipecat baseline bot.

The bot (``bench/baseline_bot.py``: pipecat's Twilio example shape with Silero VAD and
Smart Turn v3) and the fake Deepgram/OpenAI providers (``tests/fakes/providers.py``) run on
loopback. Asserts that the calls complete and every figure is produced — never how fast.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from typing import Any

import uvicorn

from bench import baseline_bot
from loadgen.report import summarize, summary_table
from loadgen.runner import LoadPlan, run_load
from loadgen.script import CallScript
from loadgen.targets import TwilioTarget
from tests.fakes.providers import FakeProviders


@contextlib.asynccontextmanager
async def serve(app: Any) -> AsyncIterator[str]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, log_config=None, lifespan="off", ws_per_message_deflate=False)
    )
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        sock.close()


async def test_two_calls_complete_and_produce_figures() -> None:
    async with FakeProviders() as providers:
        fakes = providers.http_url
        baseline_bot.CONFIG.update(fakes=fakes, turn="smart-turn")
        async with serve(baseline_bot.app) as bot:
            results = await run_load(
                TwilioTarget(bot, webhook_path="/"),
                CallScript(turns=1, lines=("I would like to book a table for tonight.",)),
                LoadPlan(concurrency=2, ramp_per_second=20),
                progress_stream=None,
            )
    summary = summarize(results, config={"calls": 2})
    print(summary_table(summary))
    assert summary["calls"] == {"placed": 2, "completed": 2, "failed": 0}, summary["errors"]
    assert summary["turns"] == 2
    for r in results:
        tl = r.timeline
        assert tl.setup_time is not None and tl.setup_time > 0  # the greeting was heard
        assert len(tl.voice_to_voice()) == 1 and tl.voice_to_voice()[0] > 0  # answered
        assert tl.bot_frames > 0 and len(tl.lateness) == tl.bot_frames
        assert r.webhook_seconds is not None and r.sender_lags
    for key in ("setup_ms", "voice_to_voice_ms", "lateness_ms", "webhook_ms"):
        assert summary[key]["n"] > 0 and summary[key]["p99"] is not None
