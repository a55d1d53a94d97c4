"""A short real run of the load generator's WebRTC channel: 2 aiortc calls, one turn each.

Against the test suite's live server: an API key and a published workflow (offline scripted
engine, espeak-ng TTS) created over the API, then ``run_load`` with a :class:`WebRTCTarget`.
Asserts that the offer is answered, the calls complete and every figure is produced — never
how fast.
"""

from __future__ import annotations

import argparse
import asyncio
import time

import httpx
import pytest

from loadgen.cli import add_parser, config_from_args
from loadgen.report import summarize, summary_table
from loadgen.runner import LoadPlan, run_load
from loadgen.script import CallScript
from loadgen.targets import TwilioTarget, WebRTCTarget
from loadgen.webrtc_caller import Microphone, WebRTCLoadCaller, frame_voiced
from tests.realtime.pipeline.test_pipeline_call import ASK, WORKFLOW
from tests.realtime.server.test_webrtc_calls import publish_workflow


async def test_two_webrtc_calls_complete_and_produce_figures(
    server, client: httpx.AsyncClient, make_user
) -> None:
    user = await make_user()
    created = await client.post("/api/v1/api-keys", json={"name": "loadtest"}, headers=user.headers)
    assert created.status_code == 201, created.text
    api_key = created.json()["key"]
    workflow_id = await publish_workflow(client, user.headers, WORKFLOW)

    results = await run_load(
        WebRTCTarget(server.url, workflow_id=workflow_id, api_key=api_key),
        CallScript(
            turns=1, lines=(ASK,), pause=0.3, pause_jitter=0.2, greeting_timeout=30, response_timeout=30
        ),
        LoadPlan(concurrency=2, ramp_per_second=20),
        progress_stream=None,
    )
    summary = summarize(results, config={"calls": 2, "channel": "webrtc"})
    print(summary_table(summary))
    assert summary["calls"] == {"placed": 2, "completed": 2, "failed": 0}, summary["errors"]
    assert summary["turns"] == 2
    for r in results:
        tl = r.timeline
        assert r.call_sid  # the call id the offer's answer named
        assert r.webhook_seconds is not None and r.connect_seconds is not None
        assert tl.setup_time is not None and tl.setup_time > 0  # the greeting was heard
        assert len(tl.voice_to_voice()) == 1 and tl.voice_to_voice()[0] > 0  # answered
        assert tl.bot_frames > 0 and len(tl.lateness) == tl.bot_frames
        assert r.sender_lags  # the microphone track was paced and sent
    for key in ("setup_ms", "voice_to_voice_ms", "lateness_ms"):
        assert summary[key]["n"] > 0 and summary[key]["p99"] is not None
    calls = (await client.get("/api/v1/calls", headers=user.headers)).json()
    assert {r.call_sid for r in results} <= {c["id"] for c in calls["items"] if c["channel"] == "webrtc"}


async def test_microphone_sends_queued_speech_then_silence_on_an_absolute_clock() -> None:
    mic = Microphone()
    loud = b"\x10\x27" * mic.samples  # 10000 on every sample
    done: asyncio.Future[float] = asyncio.get_running_loop().create_future()
    mic.say((loud, loud), done)
    frames = [await mic.recv() for _ in range(4)]
    assert [frame_voiced(f) for f in frames] == [True, True, False, False]
    assert done.done() and done.result() >= mic.clock.start  # set when the last one went out
    assert [f.pts for f in frames] == [0, 960, 1920, 2880] and frames[0].sample_rate == 48_000
    assert mic.clock.index == 4 and len(mic.clock.lags) == 4
    assert time.monotonic() - mic.clock.start >= 0.060  # paced: frame 3 was due at 60 ms


def test_only_answers_count_as_bot_audio_and_each_starts_a_playout_clock() -> None:
    target = WebRTCTarget("http://127.0.0.1:1", "wf", "sk_x")
    caller = WebRTCLoadCaller(0, target, CallScript(quiet=0.1), None)
    tl = caller.result.timeline
    t = 100.0

    def feed(voiced: bool, n: int = 1, step: float = 0.02) -> None:
        nonlocal t
        for _ in range(n):
            caller._on_frame(t, 0.02, voiced)
            t += step

    feed(False, 5)  # silence before the greeting: not bot audio
    assert tl.bot_frames == 0 and tl.first_bot_audio_at is None
    feed(True, 3)
    feed(False, 2)  # a pause inside the answer: counted once voice resumes
    feed(True, 1, step=0.06)  # arrives on time, the next one 40 ms behind its playout time
    feed(True, 1)
    assert tl.first_bot_audio_at == pytest.approx(100.1) and tl.bot_frames == 7
    assert tl.lateness[:6] == [0.0] * 6 and abs(tl.lateness[6] - 0.04) < 1e-9
    feed(False, 10)  # the answer ends after script.quiet of silence; trailing silence dropped
    assert tl.bot_frames == 7 and caller._bot_idle(t)
    tl.on_caller_speech_end(t)
    feed(False, 3)
    feed(True, 2, step=0.1)  # a new answer: a new clock, frames arriving 80 ms apart are late
    assert tl.turns[0].response_at == pytest.approx(t - 0.2) and tl.bot_frames == 9
    assert tl.lateness[7] == 0.0 and abs(tl.lateness[8] - 0.08) < 1e-9


def test_after_a_barge_in_the_interrupted_answer_is_not_the_response() -> None:
    target = WebRTCTarget("http://127.0.0.1:1", "wf", "sk_x")
    caller = WebRTCLoadCaller(0, target, CallScript(quiet=0.4), None)
    tl = caller.result.timeline
    t = 0.0

    def feed(voiced: bool, n: int) -> None:
        nonlocal t
        for _ in range(n):
            caller._on_frame(t, 0.02, voiced)
            t += 0.02

    feed(True, 10)  # the bot is answering
    caller._awaiting_clear = True  # the caller barges in
    tl.on_caller_speech_end(t, barge_in=True)
    feed(True, 5)  # still the old answer
    assert tl.turns[0].response_at is None
    feed(False, 15)  # it stopped (the server interrupted it)
    assert not caller._awaiting_clear and tl.clears == 1
    start = t
    feed(True, 2)
    assert tl.turns[0].response_at == start


def test_cli_channel_option_selects_the_webrtc_target() -> None:
    parser = argparse.ArgumentParser(prog="switchboard")
    add_parser(parser.add_subparsers(dest="command"))
    argv = ["loadtest", "--url", "http://h:1", "--channel", "webrtc", "--workflow-id", "wf-1"]
    target, _, _ = config_from_args(parser.parse_args([*argv, "--api-key", "sk_1"]))
    assert target == WebRTCTarget("http://h:1", workflow_id="wf-1", api_key="sk_1")
    assert target.offer_url == "http://h:1/api/v1/webrtc/offer"
    with pytest.raises(SystemExit):
        config_from_args(parser.parse_args([*argv, "--api-key", ""]))
    twilio, _, _ = config_from_args(parser.parse_args(["loadtest", "--url", "http://h:1"]))
    assert isinstance(twilio, TwilioTarget)
