"""Barge-in policy: a workflow node may be marked non-interruptible.

While the agent speaks at such a node, this user-mute strategy (pipecat's user-mute API on
the user aggregator) mutes the caller: their audio, VAD events and transcripts are dropped
there, so no interruption is raised and nothing said over the agent becomes a turn.
"""

from __future__ import annotations

from pipecat.frames.frames import BotStartedSpeakingFrame, BotStoppedSpeakingFrame, Frame
from pipecat.turns.user_mute import BaseUserMuteStrategy

from runtime.contract import AgentSession


class NonInterruptibleNodeMuteStrategy(BaseUserMuteStrategy):
    """Mute the caller while the agent speaks at a node with ``interruptible: false``."""

    def __init__(self, session: AgentSession, **kwargs):
        super().__init__(**kwargs)
        self._session = session
        self._bot_speaking = False

    async def process_frame(self, frame: Frame) -> bool:
        await super().process_frame(frame)
        if isinstance(frame, BotStartedSpeakingFrame):
            self._bot_speaking = True
        elif isinstance(frame, BotStoppedSpeakingFrame):
            self._bot_speaking = False
        # Sessions that do not say (the contract does not require it) are interruptible.
        return self._bot_speaking and not getattr(self._session, "interruptible", True)
