"""A tool call slower than a second gets a filler line, spoken by TTS and recorded once.

The offline scripted agent (the real workflow session) calls an HTTP tool on a local server
that answers after 1.6 s (or at once); the agent processor runs in a pipecat test pipeline.
"""

from __future__ import annotations

import asyncio

from aiohttp import web
from pipecat.frames.frames import (
    LLMContextFrame,
    LLMContextUserTurnFrame,
    LLMTextFrame,
    TTSSpeakFrame,
)
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.tests.utils import SleepFrame, run_test

from pipeline.agent_processor import AgentProcessor
from pipeline.events import MemorySink
from pipeline.observers.latency import LatencyTracker
from pipeline.observers.transcript import TranscriptTracker
from pipeline.observers.usage import UsageTracker
from runtime.egress import EgressPolicy
from runtime.models import ModelConfig
from runtime.sessions import create_session
from runtime.templates import order_desk
from tests.fakes import LoopbackServer


class SlowOrders(LoopbackServer):
    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay
        self.app.router.add_get("/orders", self._get)

    async def _get(self, _request: web.Request) -> web.Response:
        await asyncio.sleep(self.delay)
        return web.json_response({"status": "shipped"})


def _turn(text: str) -> list:
    return [LLMContextUserTurnFrame(text=text, timestamp="2026-01-01T00:00:00.000Z"),
            LLMContextFrame(context=LLMContext())]


async def _order_lookup(delay: float, filler: str | None) -> tuple[list, MemorySink, TranscriptTracker]:
    async with SlowOrders(delay) as api:
        session = create_session(order_desk(tool_url=f"{api.http_url}/orders"), variables={},
                                 model=ModelConfig(provider="offline"),
                                 egress=EgressPolicy(allow_private=True))
        sink = MemorySink()
        transcript = TranscriptTracker(sink.turn, LatencyTracker())
        agent = AgentProcessor(session, transcript=transcript, usage=UsageTracker(),
                               on_event=sink.event, greet=False, tool_filler=filler)
        down, _ = await run_test(agent, frames_to_send=[
            *_turn("I have a question about my order"), SleepFrame(0.5),
            *_turn("it is 4 4 7 1"), SleepFrame(delay + 1.0),
        ])
    return down, sink, transcript


async def test_a_slow_tool_gets_a_filler_line_spoken_once_and_not_in_the_turn_text():
    down, sink, transcript = await _order_lookup(1.6, "One moment.")
    fillers = [f for f in down if isinstance(f, TTSSpeakFrame)]
    assert [f.text for f in fillers] == ["One moment."]
    assert fillers[0].append_to_context is False  # not the model's words
    reply = [f.text for f in down if isinstance(f, LLMTextFrame)]
    assert "status: shipped" in "".join(reply)
    # Spoken before the tool's answer, not after it.
    kinds = [f for f in down if isinstance(f, (TTSSpeakFrame, LLMTextFrame))]
    assert kinds.index(fillers[0]) < next(i for i, f in enumerate(kinds)
                                          if isinstance(f, LLMTextFrame) and "shipped" in f.text)
    transcript.reply_played()
    agent_texts = [t.text for t in sink.turns if t.speaker == "agent"]
    assert agent_texts[-1] == "status: shipped"  # the agent's words, once, without the filler
    assert all("One moment" not in text for text in agent_texts)


async def test_no_filler_for_a_fast_tool_or_when_the_workflow_disables_it():
    down, _, _ = await _order_lookup(0.0, "One moment.")
    assert not [f for f in down if isinstance(f, TTSSpeakFrame)]
    down, _, _ = await _order_lookup(1.6, None)
    assert not [f for f in down if isinstance(f, TTSSpeakFrame)]
    assert "status: shipped" in "".join(f.text for f in down if isinstance(f, LLMTextFrame))
