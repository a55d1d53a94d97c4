"""Short real runs of the load generator against Switchboard: 2 Twilio calls, 1 WebRTC call.

A real server (``run_server``) provisioned over its API like the benchmark does (Twilio
carrier, phone number, published workflow) with Deepgram STT and OpenAI LLM/TTS pointed at
the fake providers of ``tests/fakes/providers.py``. Asserts that the signed webhook is
accepted, the calls complete and every figure is produced — never how fast.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx

from bench.switchboard_target import ACCOUNT_SID, AUTH_TOKEN, provision_async
from loadgen.report import summarize, summary_table
from loadgen.runner import LoadPlan, run_load
from loadgen.script import CallScript
from loadgen.targets import TwilioTarget, WebRTCTarget
from tests.conftest import make_settings, run_server
from tests.fakes.providers import FakeProviders


async def test_two_calls_against_switchboard(database_url: str, data_dir: Path) -> None:
    number = f"+1415777{uuid.uuid4().int % 10000:04d}"
    async with FakeProviders() as providers:
        fakes = providers.http_url
        settings = make_settings(
            database_url,
            data_dir,
            deepgram_api_key="fake",
            deepgram_base_url=fakes,
            openai_api_key="fake",
            openai_base_url=fakes + "/v1",
            jobs_enabled=False,
            record_calls=False,
        )
        async with (
            run_server(settings) as live,
            httpx.AsyncClient(base_url=live.url, timeout=30) as http,
        ):
            await provision_async(http, "smart-turn", fakes, number=number, max_calls=5)
            results = await run_load(
                TwilioTarget(live.url, auth_token=AUTH_TOKEN, account_sid=ACCOUNT_SID, to_number=number),
                CallScript(turns=1, lines=("I would like to book a table for tonight.",)),
                LoadPlan(concurrency=2, ramp_per_second=20),
                progress_stream=None,
            )
    summary = summarize(results, config={"calls": 2})
    print(summary_table(summary))
    assert summary["calls"] == {"placed": 2, "completed": 2, "failed": 0}, summary["errors"]
    for r in results:
        assert r.webhook_seconds is not None  # the signed webhook was answered with TwiML
        assert r.timeline.setup_time is not None and r.timeline.setup_time > 0
        assert len(r.timeline.voice_to_voice()) == 1
        assert r.timeline.bot_frames > 0 and len(r.timeline.lateness) == r.timeline.bot_frames
    for key in ("setup_ms", "voice_to_voice_ms", "lateness_ms"):
        assert summary[key]["n"] > 0 and summary[key]["p99"] is not None


async def test_webrtc_call_against_the_benchmark_tenant(database_url: str, data_dir: Path) -> None:
    """The benchmark's ``switchboard-webrtc`` system: the tenant it provisions (a published
    workflow and an API key) answers the load generator's WebRTC peers."""
    async with FakeProviders() as providers:
        fakes = providers.http_url
        settings = make_settings(
            database_url, data_dir, deepgram_api_key="fake", deepgram_base_url=fakes,
            openai_api_key="fake", openai_base_url=fakes + "/v1", jobs_enabled=False,
            record_calls=False,
        )  # fmt: skip
        async with (
            run_server(settings) as live,
            httpx.AsyncClient(base_url=live.url, timeout=30) as http,
        ):
            number = f"+1415778{uuid.uuid4().int % 10000:04d}"
            tenant = await provision_async(http, "flux", fakes, number=number, max_calls=5)
            results = await run_load(
                WebRTCTarget(live.url, workflow_id=tenant.workflow_id, api_key=tenant.api_key),
                CallScript(turns=1, lines=("I would like to book a table for tonight.",)),
                LoadPlan(concurrency=1, ramp_per_second=20),
                progress_stream=None,
            )
    summary = summarize(results, config={"calls": 1, "channel": "webrtc"})
    assert summary["calls"] == {"placed": 1, "completed": 1, "failed": 0}, summary["errors"]
    assert len(results[0].timeline.voice_to_voice()) == 1  # the fake LLM's answer was heard
