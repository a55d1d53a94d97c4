"""Barge-in policy: what the caller must say to stop the agent.

- A workflow node may be marked non-interruptible, and a goodbye (an end node, ``end_call``,
  the server's shutdown line, the idle give-up) never is. While the agent speaks there,
  :class:`NonInterruptibleNodeMuteStrategy` (pipecat's user-mute API on the user
  aggregator) mutes the caller: their audio, VAD events and transcripts are dropped there,
  so no interruption is raised and nothing said over the agent becomes a turn.
- Elsewhere :class:`BackchannelFilterStartStrategy` starts the caller's turn (and so
  interrupts the agent) on voice activity while the agent is silent, but while it speaks
  only once a transcript (an interim one counts as soon as it arrives) holds a word that
  is not a back-channel: "uh-huh", "okay",
  "right" let the agent go on, "wait, no" stops it. Measured in ``switchboard eval turns``
  (docs/TURN_TAKING.md).
"""

from __future__ import annotations

from typing import Protocol

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


class Interruptible(Protocol):
    """What the mute strategy asks: may the caller barge in right now?"""

    @property
    def interruptible(self) -> bool: ...


class NonInterruptibleNodeMuteStrategy(BaseUserMuteStrategy):
    """Mute the caller while the agent speaks where it may not be interrupted: a node with
    ``interruptible: false``, and every goodbye (the call ends after it either way)."""

    def __init__(self, agent: Interruptible, **kwargs):
        super().__init__(**kwargs)
        self._agent = agent
        self._bot_speaking = False

    async def process_frame(self, frame: Frame) -> bool:
        await super().process_frame(frame)
        if isinstance(frame, BotStartedSpeakingFrame):
            self._bot_speaking = True
        elif isinstance(frame, BotStoppedSpeakingFrame):
            self._bot_speaking = False
        return self._bot_speaking and not self._agent.interruptible


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


def _words(text: str) -> list[str]:
    words = [w.strip(".,!?'\"") for w in text.lower().replace("-", " ").split()]
    return [w for w in words if w]


def real_words(text: str) -> int:
    """How many words of a transcript are not listening noises ("uh-huh", "okay")."""
    return sum(w not in BACKCHANNELS for w in _words(text))


def is_backchannel(text: str) -> bool:
    """Whether an (interim) transcript is only listening noises: "uh-huh", "okay, right".

    A barge-in rule that stops the bot only for other words keeps "uh-huh" from cutting it
    off while "wait, no" still does (measured in ``switchboard eval turns``).
    """
    return bool(_words(text)) and real_words(text) == 0


class BackchannelFilterStartStrategy(BaseUserTurnStartStrategy):
    """Start the caller's turn on voice activity, except while the agent speaks: then only
    when a transcript of this speech holds ``min_words`` words that are not back-channels.

    While the agent speaks, any interim transcript counts as soon as it arrives, whether
    or not the VAD has confirmed speech yet (Silero needs 0.3-0.8 s on soft onsets such as
    "wait"; ``switchboard eval turns`` measured p95 840 -> 620 ms). Final transcripts count
    only for speech that began over the agent: a late final transcript of an earlier
    utterance (segmenting STTs send one after the turn was answered) never starts a turn.
    A back-channel's final transcript is dropped from the aggregation, so "uh-huh" does not
    become part of the caller's next turn.

    ``filter_backchannels=False`` is pipecat's behaviour: any voice activity interrupts.
    """

    def __init__(self, *, filter_backchannels: bool = True, min_words: int = 1, **kwargs) -> None:
        super().__init__(**kwargs)
        self.filter_backchannels = filter_backchannels
        self.min_words = max(1, min_words)
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
            if not self._bot_speaking or not self.filter_backchannels:
                await self.trigger_user_turn_started()
                return ProcessFrameResult.STOP
            self._listening = True
        elif isinstance(frame, InterimTranscriptionFrame) and self._bot_speaking and self.filter_backchannels:
            if real_words(frame.text) >= self.min_words:
                self._listening = False
                await self.trigger_user_turn_started()
                return ProcessFrameResult.STOP
        elif isinstance(frame, TranscriptionFrame) and self._listening:
            self._listening = False
            if real_words(frame.text) >= self.min_words:
                await self.trigger_user_turn_started()
                return ProcessFrameResult.STOP
            await self.trigger_reset_aggregation()
        elif isinstance(frame, VADUserStoppedSpeakingFrame) and not self._bot_speaking:
            self._listening = False
        return ProcessFrameResult.CONTINUE
