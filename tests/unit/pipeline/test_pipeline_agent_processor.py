"""AgentProcessor in a pipecat test pipeline with a scripted session (runtime/contract.py).

The session here is a test double of the *runtime* (the thing the processor drives), not of
the processor: it records what the processor asked of it, so barge-in cancellation and the
``interrupted(spoken)`` hand-back can be checked exactly.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from pipecat.frames.frames import (
    BotStoppedSpeakingFrame,
    InterruptionFrame,
    LLMContextFrame,
    LLMContextUserTurnFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    LLMTextFrame,
)
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.tests.utils import SleepFrame, run_test

from pipeline.agent_processor import AgentProcessor
from pipeline.events import MemorySink
from pipeline.observers.latency import LatencyTracker
from pipeline.observers.transcript import TranscriptTracker
from pipeline.observers.usage import UsageTracker
from runtime.contract import AgentEvent, EndCall, ModelUsage, SessionInfo, TextDelta, TransferCall


class ScriptedSession:
    """Yields a fixed list of events per turn; ``None`` in the list means 'hang forever'."""

    def __init__(self, script: list[AgentEvent | None], greeting: str | None = None):
        self.info = SessionInfo(engine="test", model="scripted")
        self.script = script
        self._greeting = greeting
        self.heard: list[str] = []
        self.interruptions: list[str] = []
        self.cancelled = False
        self.finished = False

    @property
    def current_node(self) -> str:
        return "start"

    def greeting(self) -> str | None:
        return self._greeting

    async def respond(self, user_text: str) -> AsyncIterator[AgentEvent]:
        self.heard.append(user_text)
        try:
            for event in self.script:
                if event is None:
                    await asyncio.sleep(3600)
                yield event  # type: ignore[misc]
            self.finished = True
        except asyncio.CancelledError:
            self.cancelled = True
            raise

    def interrupted(self, spoken_text: str) -> None:
        self.interruptions.append(spoken_text)

    def history(self) -> list[dict[str, Any]]:
        return []


class PlayedAtOnce(TranscriptTracker):
    """As if the output transport played each piece of text the moment it was generated."""

    def agent_reply_text(self, delta: str) -> None:
        super().agent_reply_text(delta)
        self.spoken_text(delta.strip())


def make(session: ScriptedSession, transcript_cls: type[TranscriptTracker] = TranscriptTracker):
    sink = MemorySink()
    latency = LatencyTracker()
    transcript = transcript_cls(sink.turn, latency)
    usage = UsageTracker()
    agent = AgentProcessor(session, transcript=transcript, usage=usage, on_event=sink.event)
    return agent, sink, transcript, usage


def user_turn(text: str) -> list:
    return [
        LLMContextUserTurnFrame(text=text, timestamp="2026-01-01T00:00:00.000Z"),
        LLMContextFrame(context=LLMContext()),
    ]


async def test_a_user_turn_streams_the_reply_as_llm_frames():
    session = ScriptedSession([TextDelta("Sure, "), TextDelta("table for two."),
                               ModelUsage("openai", "gpt", 12, 5)])  # fmt: skip
    agent, sink, transcript, usage = make(session)
    down, _ = await run_test(
        agent,
        frames_to_send=[*user_turn("book a table"), SleepFrame(0.2)],
        expected_down_frames=[
            LLMFullResponseStartFrame,
            LLMTextFrame,
            LLMTextFrame,
            LLMFullResponseEndFrame,
        ],  # fmt: skip
    )
    assert [f.text for f in down if isinstance(f, LLMTextFrame)] == ["Sure, ", "table for two."]
    assert session.heard == ["book a table"]
    assert [(t.speaker, t.text) for t in sink.turns] == [("user", "book a table")]
    transcript.reply_played()  # the output transport finished playing it
    assert [(t.speaker, t.text) for t in sink.turns][1] == ("agent", "Sure, table for two.")
    totals = {(u.kind, u.provider): u.quantity for u in usage.records()}
    assert totals == {("llm_input_tokens", "openai"): 12, ("llm_output_tokens", "openai"): 5}


async def test_barge_in_cancels_the_run_and_hands_back_what_was_heard():
    session = ScriptedSession([TextDelta("Our opening hours are long. "), None,
                               TextDelta("never said")])  # fmt: skip
    agent, sink, _, _ = make(session, transcript_cls=PlayedAtOnce)
    frames = [*user_turn("when are you open"), SleepFrame(0.2), InterruptionFrame(),
              SleepFrame(0.2)]  # fmt: skip
    down, _ = await run_test(agent, frames_to_send=frames)
    assert session.cancelled and not session.finished
    assert session.interruptions == ["Our opening hours are long."]
    texts = [f.text for f in down if isinstance(f, LLMTextFrame)]
    assert texts == ["Our opening hours are long. "]
    agent_turn = [t for t in sink.turns if t.speaker == "agent"][0]
    assert agent_turn.interrupted and agent_turn.text == "Our opening hours are long."


async def test_end_call_ends_after_the_goodbye_and_actions_become_events():
    session = ScriptedSession([TextDelta("Transferring. "), TransferCall("+15550001111"),
                               TextDelta("Goodbye."), EndCall("agent_ended")])  # fmt: skip
    agent, sink, _, _ = make(session)
    frames = [*user_turn("transfer me"), SleepFrame(0.3), BotStoppedSpeakingFrame(),
              SleepFrame(0.1)]  # fmt: skip
    down, _ = await run_test(agent, frames_to_send=frames, send_end_frame=False)
    kinds = [type(f) for f in down]
    assert kinds.index(LLMFullResponseEndFrame) > kinds.index(LLMTextFrame)
    assert agent.end_reason == "agent_ended"
    events = [(e.kind, e.data) for e in sink.events]
    assert ("transfer", {"to": "+15550001111"}) in events
    assert ("end_requested", {"reason": "agent_ended"}) in events


async def test_greeting_is_spoken_at_start():
    session = ScriptedSession([], greeting="Hello there.")
    agent, _, _, _ = make(session)
    down, _ = await run_test(agent, frames_to_send=[SleepFrame(0.2)])
    assert [f.text for f in down if isinstance(f, LLMTextFrame)] == ["Hello there."]
    assert session.heard == []


async def test_keypad_digits_become_one_user_turn_and_interrupt_the_bot():
    from pipecat.audio.dtmf.types import KeypadEntry
    from pipecat.frames.frames import InputDTMFFrame
    from pipecat.pipeline.pipeline import Pipeline
    from pipecat.processors.aggregators.dtmf_aggregator import DTMFAggregator

    from pipeline.agent_processor import DTMF_PREFIX

    session = ScriptedSession([TextDelta("You chose billing.")])
    agent, sink, _, _ = make(session)
    pipeline = Pipeline([DTMFAggregator(timeout=0.3, prefix=DTMF_PREFIX), agent])
    digits = [InputDTMFFrame(button=KeypadEntry.TWO), InputDTMFFrame(button=KeypadEntry.FIVE),
              InputDTMFFrame(button=KeypadEntry.POUND)]  # fmt: skip
    down, _ = await run_test(pipeline, frames_to_send=[*digits, SleepFrame(0.3)])
    assert session.heard == ["DTMF: 25#"]
    assert [(t.speaker, t.text) for t in sink.turns][0] == ("user", "DTMF: 25#")
    assert [f.text for f in down if isinstance(f, LLMTextFrame)] == ["You chose billing."]
    assert any(isinstance(f, InterruptionFrame) for f in down)


async def test_transfer_waits_until_the_words_before_it_were_heard():
    from datetime import UTC, datetime, timedelta

    session = ScriptedSession([TextDelta("Let me put you through. "), TransferCall("+15550002222")])
    agent, sink, _, _ = make(session)
    started = datetime.now(UTC)
    # The reply is generated at once; its audio "plays" for 0.5 s, then the bot stops.
    frames = [*user_turn("a human please"), SleepFrame(0.5), BotStoppedSpeakingFrame(),
              SleepFrame(0.1)]  # fmt: skip
    await run_test(agent, frames_to_send=frames)
    [transfer] = [e for e in sink.events if e.kind == "transfer"]
    assert transfer.data == {"to": "+15550002222"}
    assert transfer.at - started >= timedelta(seconds=0.45)  # not before the words were heard
