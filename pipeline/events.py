"""What a running call reports to whoever runs it (the server's call lifecycle).

The pipeline never writes to a database or speaks HTTP: it hands plain records to a
``CallEventSink``. Every sink method is called from the event loop and must return quickly
(queue the record, do the I/O elsewhere); it is never called on the per-frame audio path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal, Protocol

Speaker = Literal["user", "agent", "tool"]


class EndReason(StrEnum):
    """Why a call ended (the ``calls.end_reason`` column). The pipeline reports the first
    group; the server's call lifecycle adds the others."""

    # the pipeline
    COMPLETED = "completed"  # the pipeline ended with no other reason
    AGENT_ENDED = "agent_ended"  # the workflow reached an end node / called end_call
    CALLER_HANGUP = "caller_hangup"
    CALLER_IDLE = "caller_idle"  # the caller stayed silent through the idle prompts
    IDLE_TIMEOUT = "idle_timeout"  # no audio activity at all
    MAX_DURATION = "max_duration"
    CANCELED = "canceled"  # the task running the call was cancelled (shutdown)
    ERROR = "error"
    # the server: commands and admission
    ENDED_BY_API = "ended_by_api"
    TRANSFERRED = "transferred"
    VOICEMAIL = "voicemail"
    CONCURRENCY_LIMIT = "concurrency_limit"
    DIAL_FAILED = "dial_failed"
    NEVER_CONNECTED = "never_connected"  # the caller's media never arrived
    # the fleet: a draining instance ended the call after SHUTDOWN_GRACE_SECONDS (with a
    # spoken goodbye); the sweeper ended the call of an instance that stopped heartbeating
    SERVER_SHUTDOWN = "server_shutdown"
    INSTANCE_LOST = "instance_lost"
    # the carrier's final status, for calls that end on a status callback
    BUSY = "busy"
    NO_ANSWER = "no-answer"
    FAILED = "failed"

    @classmethod
    def of(cls, value: str | None, default: EndReason) -> EndReason:
        """``value`` as an end reason; ``default`` when it is none of them."""
        try:
            return cls(value) if value else default
        except ValueError:
            return default


@dataclass(slots=True)
class TurnLatency:
    """Milliseconds from the end of the user's speech to each stage of the reply.

    ``None`` when a stage never happened (e.g. the reply was interrupted before any audio).
    """

    stt_final_ms: float | None = None
    agent_first_token_ms: float | None = None
    tts_first_audio_ms: float | None = None
    first_audio_out_ms: float | None = None
    user_bot_ms: float | None = None  # pipecat UserBotLatencyObserver's total, for reference

    def as_dict(self) -> dict[str, float | None]:
        return {
            "stt_final_ms": self.stt_final_ms,
            "agent_first_token_ms": self.agent_first_token_ms,
            "tts_first_audio_ms": self.tts_first_audio_ms,
            "first_audio_out_ms": self.first_audio_out_ms,
            "user_bot_ms": self.user_bot_ms,
        }


@dataclass(slots=True)
class TurnRecord:
    """One completed turn of the conversation."""

    index: int
    speaker: Speaker
    text: str
    started_at: datetime
    ended_at: datetime
    interrupted: bool = False
    latency: TurnLatency | None = None  # on agent turns that answered a user turn
    node: str | None = None
    tool: dict[str, Any] | None = None  # {"name", "arguments", "result", "error"} on tool turns


@dataclass(slots=True)
class UsageRecord:
    """A usage quantity attributed to one provider (summed per call before reporting)."""

    kind: Literal["stt_seconds", "llm_input_tokens", "llm_output_tokens", "tts_characters"]
    provider: str
    model: str | None
    quantity: float


@dataclass(slots=True)
class CallEvent:
    """Something that happened on the call besides turns: failover switches, transfers,
    DTMF, handoffs, errors. ``kind`` is one of ``failover``, ``transfer``, ``dtmf``,
    ``handoff``, ``error``, ``end_requested``."""

    kind: str
    at: datetime
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class CallResult:
    """How the pipeline ended."""

    end_reason: EndReason
    started_at: datetime
    ended_at: datetime
    turns: int
    usage: list[UsageRecord]
    recording_path: str | None = None
    error: str | None = None

    @property
    def duration_seconds(self) -> float:
        return max(0.0, (self.ended_at - self.started_at).total_seconds())


class CallEventSink(Protocol):
    """Receives a live call's records. Implementations must not block."""

    def turn(self, record: TurnRecord) -> None: ...

    def event(self, event: CallEvent) -> None: ...

    def usage(self, records: list[UsageRecord]) -> None:
        """The call's usage so far (cumulative totals per kind/provider/model)."""
        ...

    def ended(self, result: CallResult) -> None: ...


class MemorySink:
    """A sink that keeps everything in memory (tests, the CLI)."""

    def __init__(self) -> None:
        self.turns: list[TurnRecord] = []
        self.events: list[CallEvent] = []
        self.usage_totals: list[UsageRecord] = []
        self.result: CallResult | None = None

    def turn(self, record: TurnRecord) -> None:
        self.turns.append(record)

    def event(self, event: CallEvent) -> None:
        self.events.append(event)

    def usage(self, records: list[UsageRecord]) -> None:
        self.usage_totals = list(records)

    def ended(self, result: CallResult) -> None:
        self.result = result
