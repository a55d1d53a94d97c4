"""Turn records: what the caller said, what the agent said (and how much of it was heard).

The agent processor drives the turn boundaries directly (it knows when a turn is answered,
when a reply starts and when barge-in cut it); the call observer feeds in what actually
reached the caller (``TTSTextFrame``s and the end of the reply leaving the output transport).
Records go to ``emit`` as soon as each turn is complete.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from pipeline.events import TurnRecord
from pipeline.observers.latency import LatencyTracker
from runtime.contract import ToolCalled


def _now() -> datetime:
    return datetime.now(UTC)


def _parse_ts(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class _AgentTurn:
    __slots__ = ("node", "started_at", "generated", "spoken", "done_generating")

    def __init__(self, node: str | None):
        self.node = node
        self.started_at = _now()
        self.generated: list[str] = []
        self.spoken: list[str] = []
        self.done_generating = False


class TranscriptTracker:
    """Builds ``TurnRecord``s for one call."""

    def __init__(self, emit: Callable[[TurnRecord], None], latency: LatencyTracker):
        self._emit = emit
        self._latency = latency
        self._index = 0
        self._agent: _AgentTurn | None = None
        self.count = 0

    # -- driven by the agent processor ----------------------------------------------------
    def user_turn(self, text: str, started_at: str | None = None) -> None:
        now = _now()
        self._record("user", text, _parse_ts(started_at) or now, now)

    def agent_reply_started(self, node: str | None) -> None:
        self._finish_agent(interrupted=False)
        self._agent = _AgentTurn(node)

    def agent_reply_text(self, delta: str) -> None:
        if self._agent is not None:
            self._agent.generated.append(delta)

    def agent_reply_generated(self) -> None:
        if self._agent is not None:
            self._agent.done_generating = True

    def agent_interrupted(self) -> str | None:
        """Barge-in: close the open agent turn as interrupted; return what was heard of it."""
        if self._agent is None:
            return None
        spoken = _join(self._agent.spoken)
        self._finish_agent(interrupted=True)
        return spoken

    def tool_turn(self, event: ToolCalled) -> None:
        now = _now()
        self._record(
            "tool",
            event.name,
            now,
            now,
            tool={
                "name": event.name,
                "arguments": event.arguments,
                "result": event.result,
                "error": event.error,
            },
        )

    # -- fed by the call observer -----------------------------------------------------------
    def spoken_text(self, text: str) -> None:
        if self._agent is not None and text:
            self._agent.spoken.append(text)

    def reply_played(self) -> None:
        """The end of the reply left the output transport: the caller heard all of it."""
        if self._agent is not None and self._agent.done_generating:
            self._finish_agent(interrupted=False)

    def close(self) -> None:
        """Call ended: keep whatever reply is still open."""
        self._finish_agent(interrupted=False)

    # -- internals ----------------------------------------------------------------------------
    def _finish_agent(self, *, interrupted: bool) -> None:
        turn, self._agent = self._agent, None
        if turn is None:
            return
        text = _join(turn.spoken) if interrupted else _join(turn.generated)
        if not text and not interrupted:
            return
        self._record(
            "agent",
            text,
            turn.started_at,
            _now(),
            interrupted=interrupted,
            latency=self._latency.take(),
            node=turn.node,
        )

    def _record(self, speaker, text: str, started_at: datetime, ended_at: datetime, **extra):
        record = TurnRecord(
            index=self._index,
            speaker=speaker,
            text=text,
            started_at=started_at,
            ended_at=ended_at,
            **extra,
        )
        self._index += 1
        self.count += 1
        self._emit(record)


def _join(parts: list[str]) -> str:
    out = ""
    for part in parts:
        if out and not out.endswith(" ") and not part.startswith((" ", ",", ".", "!", "?")):
            out += " "
        out += part
    return out.strip()
