"""The contract between the voice pipeline and the agent runtime.

The pipeline hands each finished user turn to an ``AgentSession`` and streams the events it
yields; it knows nothing of workflows. ``runtime`` implements sessions (openai-agents and the
offline scripted model) and knows nothing of audio.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable


@dataclass(frozen=True, slots=True)
class TextDelta:
    """A piece of the reply text, in speaking order."""

    text: str


@dataclass(frozen=True, slots=True)
class ToolStarted:
    """The model called a tool; its result (``ToolCalled``) follows once it ran."""

    name: str


@dataclass(frozen=True, slots=True)
class ToolCalled:
    """A tool ran during the turn (recorded as a turn on the call)."""

    name: str
    arguments: dict[str, Any]
    result: str
    error: str | None = None


@dataclass(frozen=True, slots=True)
class HandedOff:
    """The active node changed."""

    from_node: str
    to_node: str


@dataclass(frozen=True, slots=True)
class EndCall:
    """The agent ended the call; hang up once the reply so far has been spoken."""

    reason: str = "agent_ended"


@dataclass(frozen=True, slots=True)
class TransferCall:
    """The agent asked to transfer the caller to ``to`` (E.164 or SIP URI)."""

    to: str


@dataclass(frozen=True, slots=True)
class SendDtmf:
    """The agent asked to send DTMF digits on the line."""

    digits: str


@dataclass(frozen=True, slots=True)
class ModelUsage:
    """Tokens used by one model run."""

    provider: str
    model: str
    input_tokens: int
    output_tokens: int


AgentEvent = (
    TextDelta | ToolStarted | ToolCalled | HandedOff | EndCall | TransferCall | SendDtmf | ModelUsage
)


@dataclass(slots=True)
class SessionInfo:
    """What a session reports about itself (shown on the call and in logs)."""

    engine: str  # "offline-scripted", "openai", "openai-compatible"
    model: str
    workflow_id: str | None = None
    workflow_version: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class AgentSession(Protocol):
    """One conversation with a workflow. Not shared between calls."""

    info: SessionInfo

    @property
    def current_node(self) -> str: ...

    def greeting(self) -> str | None:
        """Fixed greeting of the start node (already templated), or None."""
        ...

    def respond(self, user_text: str) -> AsyncIterator[AgentEvent]:
        """Run one user turn. Cancelling the consuming task cancels the run at once."""
        ...

    def interrupted(self, spoken_text: str) -> None:
        """The last reply was cut by barge-in; keep only ``spoken_text`` of it in history."""
        ...

    def history(self) -> list[dict[str, Any]]:
        """The conversation so far as role/content items (for post-call analysis)."""
        ...
