"""Barge-in policy: what the caller must say to stop the agent.

- A workflow node may be marked non-interruptible. While the agent speaks at such a node,
  :class:`NonInterruptibleNodeMuteStrategy` (pipecat's user-mute API on the user
  aggregator) mutes the caller: their audio, VAD events and transcripts are dropped there,
  so no interruption is raised and nothing said over the agent becomes a turn.
- Elsewhere :class:`BackchannelFilterStartStrategy` starts the caller's turn (and so
  interrupts the agent) on voice activity while the agent is silent, but while it speaks
  only once a transcript holds a word that is not a back-channel: "uh-huh", "okay",
  "right" let the agent go on, "wait, no" stops it. Measured in ``switchboard eval turns``
  (docs/TURN_TAKING.md).
"""

from __future__ import annotations

from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    Frame,
    InterimTranscriptionFrame,
    TranscriptionFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.turns.types import ProcessFrameResult
from pipecat.turns.user_mute import BaseUserMuteStrategy
from pipecat.turns.user_start import BaseUserTurnStartStrategy

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


#: What callers say to show they are listening, not to take the turn.
BACKCHANNELS = frozenset(
    {
        "uh",
        "huh",
        "mm",
        "hmm",
        "mhm",
        "okay",
        "ok",
        "right",
        "yeah",
        "yep",
        "sure",
        "alright",
        "got",
        "it",
        "i",
        "see",
        "aha",
        "oh",
    }
)


def is_backchannel(text: str) -> bool:
    """Whether an (interim) transcript is only listening noises: "uh-huh", "okay, right".

    A barge-in rule that stops the bot only for other words keeps "uh-huh" from cutting it
    off while "wait, no" still does (measured in ``switchboard eval turns``).
    """
    words = [w.strip(".,!?'\"") for w in text.lower().replace("-", " ").split()]
    words = [w for w in words if w]
    return bool(words) and all(w in BACKCHANNELS for w in words)


class BackchannelFilterStartStrategy(BaseUserTurnStartStrategy):
    """Start the caller's turn on voice activity, except while the agent speaks: then only
    when an interim or final transcript of this speech holds a non-back-channel word.

    Only transcripts of speech that began while the agent was talking count: a late final
    transcript of an earlier utterance (segmenting STTs send one after the turn was
    answered) never starts a turn. A back-channel's final transcript is dropped from the
    aggregation, so "uh-huh" does not become part of the caller's next turn.
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._bot_speaking = False
        self._listening = False  # the caller started speaking over the agent

    async def handle_user_turn_started(self) -> None:
        self._listening = False

    async def process_frame(self, frame: Frame) -> ProcessFrameResult:
        if isinstance(frame, BotStartedSpeakingFrame):
            self._bot_speaking = True
        elif isinstance(frame, BotStoppedSpeakingFrame):
            self._bot_speaking = False
        elif isinstance(frame, VADUserStartedSpeakingFrame):
            if not self._bot_speaking:
                await self.trigger_user_turn_started()
                return ProcessFrameResult.STOP
            self._listening = True
        elif isinstance(frame, (InterimTranscriptionFrame, TranscriptionFrame)) and self._listening:
            if frame.text.strip() and not is_backchannel(frame.text):
                self._listening = False
                await self.trigger_user_turn_started()
                return ProcessFrameResult.STOP
            if isinstance(frame, TranscriptionFrame):
                self._listening = False
                await self.trigger_reset_aggregation()
        elif isinstance(frame, VADUserStoppedSpeakingFrame) and not self._bot_speaking:
            self._listening = False
        return ProcessFrameResult.CONTINUE
