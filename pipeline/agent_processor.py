"""The pipecat processor that puts an ``AgentSession`` (runtime/contract.py) into a pipeline.

It sits between the user aggregator and TTS. Each finished user turn (the aggregator's
``LLMContextUserTurnFrame`` followed by its ``LLMContextFrame``) becomes one
``session.respond(text)`` run, consumed in a task of its own; the reply text is streamed
downstream as ``LLMFullResponseStartFrame`` / ``LLMTextFrame``... / ``LLMFullResponseEndFrame``
as it arrives, so TTS starts on the first sentence. An ``InterruptionFrame`` (barge-in)
cancels the run at once and tells the session how much of the reply was actually heard.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime

from loguru import logger
from opentelemetry import context as otel_context
from pipecat.frames.frames import (
    BotStoppedSpeakingFrame,
    CancelFrame,
    EndFrame,
    EndWorkerFrame,
    Frame,
    InterruptionFrame,
    LLMContextFrame,
    LLMContextUserTurnFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    LLMTextFrame,
    StartFrame,
    TranscriptionFrame,
)
from pipecat.processors.frame_processor import (
    FrameDirection,
    FrameProcessor,
    FrameProcessorSetup,
)
from pipecat.utils.tracing.tracing_context import TracingContext

from pipeline.events import CallEvent
from pipeline.observers.transcript import TranscriptTracker
from pipeline.observers.usage import UsageTracker
from pipeline.tool_filler import TOOL_FILLER_AFTER_SECS, ToolFiller
from runtime.contract import (
    AgentSession,
    EndCall,
    HandedOff,
    ModelUsage,
    SendDtmf,
    TextDelta,
    ToolCalled,
    ToolStarted,
    TransferCall,
)

EventCallback = Callable[[CallEvent], None]

# Keypad input reaches the agent as a user turn with this prefix (pipecat's DTMFAggregator,
# placed before this processor, turns digits into a TranscriptionFrame carrying it).
DTMF_PREFIX = "DTMF: "
# Longest wait for the words before a transfer to finish playing.
TRANSFER_WAIT_SECS = 15.0


class AgentProcessor(FrameProcessor):
    """Runs the agent for each user turn and streams its reply as LLM text frames."""

    def __init__(
        self,
        session: AgentSession,
        *,
        transcript: TranscriptTracker,
        usage: UsageTracker,
        on_event: EventCallback,
        greet: bool = True,
        idle_prompts: list[str] | None = None,
        tool_filler: str | None = None,
        tool_filler_after_secs: float = TOOL_FILLER_AFTER_SECS,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self._session = session
        self._transcript = transcript
        self._usage = usage
        self._on_event = on_event
        self._greet = greet
        self._idle_prompts = list(idle_prompts or [])
        self._idle_count = 0
        self._filler = ToolFiller(self, tool_filler, tool_filler_after_secs)
        self._pending_user_text: list[str] = []
        self._pending_user_started: str | None = None
        self._reply_task: asyncio.Task | None = None
        self._ending = False
        self.end_reason: str | None = None
        # Greet once the pipeline started and (when the transport says so) the caller's
        # media is connected: audio written before a WebRTC peer connects is lost.
        self.wait_for_client = False
        self._started = False
        self._client_connected = False
        self._greeted = False
        # A transfer waits until the words before it were heard (the carrier cuts the media
        # the moment it transfers); a timer covers a lost BotStoppedSpeaking.
        self._pending_transfer: TransferCall | None = None
        self._transfer_timer: asyncio.Task | None = None
        self._tracing: TracingContext | None = None  # the worker's turn spans, when tracing

    @property
    def interruptible(self) -> bool:
        """Whether the caller may barge in now: never once the call is ending (its goodbye
        plays out), else as the session's current node says."""
        return not self._ending and getattr(self._session, "interruptible", True)

    async def setup(self, setup: FrameProcessorSetup) -> None:
        await super().setup(setup)
        self._tracing = setup.tracing_context if setup.enable_tracing else None

    # -- frame handling --------------------------------------------------------------------
    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)

        if isinstance(frame, StartFrame):
            await self.push_frame(frame, direction)
            self._started = True
            self._maybe_greet()
        elif isinstance(frame, InterruptionFrame):
            await self._interrupt()
            self._release_transfer()  # the caller talked over it: transfer now
            await self.push_frame(frame, direction)
        elif isinstance(frame, BotStoppedSpeakingFrame):
            await self.push_frame(frame, direction)
            if self._reply_task is None or self._reply_task.done():
                self._release_transfer()
        elif isinstance(frame, LLMContextUserTurnFrame) and direction == FrameDirection.DOWNSTREAM:
            if frame.text.strip():
                if not self._pending_user_text:
                    self._pending_user_started = frame.timestamp
                self._pending_user_text.append(frame.text.strip())
        elif isinstance(frame, LLMContextFrame):
            # The aggregator's request to answer; the reply comes from the session, not the
            # context (the session keeps its own history).
            if self._pending_user_text and not self._ending:
                text = " ".join(self._pending_user_text)
                self._pending_user_text.clear()
                self._idle_count = 0
                self._transcript.user_turn(text, self._pending_user_started)
                self._start_reply(text, None)
        elif isinstance(frame, TranscriptionFrame) and frame.text.startswith(DTMF_PREFIX):
            # The aggregator already broadcast an interruption on the first digit.
            if not self._ending:
                self._idle_count = 0
                self._transcript.user_turn(frame.text, frame.timestamp)
                self._start_reply(frame.text, None)
        elif isinstance(frame, (EndFrame, CancelFrame)):
            await self._cancel_reply()
            if self._transfer_timer is not None:
                await self.cancel_task(self._transfer_timer)
                self._transfer_timer = None
            self._release_transfer()  # the agent's last intent still stands
            await self.push_frame(frame, direction)
        else:
            await self.push_frame(frame, direction)

    async def client_connected(self) -> None:
        """The transport's client (browser peer, carrier stream) is connected."""
        self._client_connected = True
        self._maybe_greet()

    def _maybe_greet(self) -> None:
        if self._greeted or not self._started:
            return
        if self.wait_for_client and not self._client_connected:
            return
        self._greeted = True
        greeting = self._session.greeting() if self._greet else None
        if greeting:
            self._start_reply(None, greeting)

    async def caller_idle(self) -> None:
        """The caller said nothing since the agent last spoke: prompt, then give up."""
        if self._ending or (self._reply_task and not self._reply_task.done()):
            return
        if self._idle_count < len(self._idle_prompts):
            self._start_reply(None, self._idle_prompts[self._idle_count])
            self._idle_count += 1
            return
        self._ending = True
        self.end_reason = "caller_idle"
        self._emit("end_requested", {"reason": "caller_idle"})
        await self.push_frame(EndWorkerFrame(reason="caller_idle"))

    async def say_goodbye(self, text: str, reason: str) -> None:
        """End the call on the server's behalf (shutdown): stop the reply in flight, speak
        ``text``, then end the pipeline once it was played."""
        if self._ending:
            return
        await self._interrupt()
        self._ending = True
        self.end_reason = reason
        self._emit("end_requested", {"reason": reason})
        self._reply_task = self.create_task(self._goodbye(text, reason), name=f"{self}::goodbye")

    async def _goodbye(self, text: str, reason: str) -> None:
        self._transcript.agent_reply_started(self._session.current_node)
        await self.push_frame(LLMFullResponseStartFrame())
        self._transcript.agent_reply_text(text)
        await self.push_frame(LLMTextFrame(text))
        await self.push_frame(LLMFullResponseEndFrame())
        self._transcript.agent_reply_generated()
        await self.push_frame(EndWorkerFrame(reason=reason))

    # -- replies ---------------------------------------------------------------------------
    def _start_reply(self, user_text: str | None, fixed_text: str | None) -> None:
        if self._reply_task and not self._reply_task.done():
            self._reply_task.cancel()
        self._reply_task = self.create_task(self._run_reply(user_text, fixed_text), name=f"{self}::reply")

    async def _run_reply(self, user_text: str | None, fixed_text: str | None) -> None:
        # The agent run's spans (runtime/tracing.py) become children of the turn's span.
        turn = self._tracing.get_turn_context() if self._tracing else None
        if turn is not None:
            otel_context.attach(turn)  # this reply's own task: its context ends with it
        self._transcript.agent_reply_started(self._session.current_node)
        await self.push_frame(LLMFullResponseStartFrame())
        self._filler.reply_started()
        end: EndCall | None = None
        spoke = fixed_text is not None
        try:
            if fixed_text is not None:
                self._transcript.agent_reply_text(fixed_text)
                await self.push_frame(LLMTextFrame(fixed_text))
            else:
                assert user_text is not None
                async for event in self._session.respond(user_text):
                    if isinstance(event, TextDelta):
                        if event.text:
                            spoke = True
                            self._transcript.agent_reply_text(event.text)
                            await self.push_frame(LLMTextFrame(event.text))
                    elif isinstance(event, ModelUsage):
                        self._usage.add_llm(event)
                    elif isinstance(event, ToolStarted):
                        self._filler.tool_started()
                    elif isinstance(event, ToolCalled):
                        await self._filler.tool_done()
                        self._transcript.tool_turn(event)
                    elif isinstance(event, HandedOff):
                        self._emit("handoff", {"from": event.from_node, "to": event.to_node})
                    elif isinstance(event, EndCall):
                        end = event
                    elif isinstance(event, TransferCall):
                        self._pending_transfer = event
                    elif isinstance(event, SendDtmf):
                        self._emit("dtmf", {"digits": event.digits})
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the agent failed: say nothing more, keep the call up
            logger.exception(f"{self}: agent run failed")
            self._emit("error", {"stage": "agent", "error": f"{type(exc).__name__}: {exc}"})
        await self._filler.tool_done()
        await self.push_frame(LLMFullResponseEndFrame())
        self._transcript.agent_reply_generated()
        if self._pending_transfer is not None:
            if spoke:
                self._transfer_timer = self.create_task(self._transfer_after(TRANSFER_WAIT_SECS))
            else:
                self._release_transfer()
        if end is not None:
            self._ending = True
            self.end_reason = end.reason
            self._emit("end_requested", {"reason": end.reason})
            # Queued behind the reply: the worker ends the pipeline once it reaches the
            # sink, and the output transport plays what it holds before it stops.
            await self.push_frame(EndWorkerFrame(reason=end.reason))

    async def _interrupt(self) -> None:
        running = self._reply_task is not None and not self._reply_task.done()
        await self._cancel_reply()
        spoken = self._transcript.agent_interrupted()
        if spoken is not None or running:
            try:
                self._session.interrupted(spoken or "")
            except Exception:
                logger.exception(f"{self}: session.interrupted failed")

    async def _cancel_reply(self) -> None:
        await self._filler.tool_done()
        if self._reply_task and not self._reply_task.done():
            await self.cancel_task(self._reply_task)
        self._reply_task = None

    async def _transfer_after(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        self._release_transfer()

    def _release_transfer(self) -> None:
        transfer, self._pending_transfer = self._pending_transfer, None
        if transfer is not None:
            self._emit("transfer", {"to": transfer.to})

    def _emit(self, kind: str, data: dict) -> None:
        self._on_event(CallEvent(kind=kind, at=datetime.now(UTC), data=data))
