"""Speak again, on the fallback, what a failed TTS provider never synthesized.

When the active TTS fails mid-call (``pipeline.providers.failover``), the sentence it was
synthesizing and any text still in its sentence aggregator are lost with it: the caller
would hear the reply jump ahead. :class:`TTSReplay` keeps a word ledger around the TTS stage:
``before`` (in front of it) counts the words sent in (reply text and ``TTSSpeakFrame``s),
``after`` (behind it) the words that came out as ``TTSTextFrame``s, i.e. were synthesized.
On a TTS failover the words sent in but never synthesized are sent to the fallback as one
``TTSSpeakFrame`` (not added to the LLM context: the reply text is already there).

Work happens per text frame and on the failover path, never per audio frame.
"""

from __future__ import annotations

from pipecat.frames.frames import (
    Frame,
    InterruptionFrame,
    LLMTextFrame,
    TTSSpeakFrame,
    TTSTextFrame,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor


class _Ledger:
    def __init__(self) -> None:
        self.sent: list[str] = []
        self.synthesized = 0

    def clear(self) -> None:
        self.sent.clear()
        self.synthesized = 0

    def unsynthesized(self) -> str:
        return " ".join(self.sent[self.synthesized :])


class _Before(FrameProcessor):
    def __init__(self, ledger: _Ledger, **kwargs) -> None:
        super().__init__(**kwargs)
        self._ledger = ledger

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, InterruptionFrame):
            self._ledger.clear()  # cut by the caller: nothing to speak again
        elif direction == FrameDirection.DOWNSTREAM and isinstance(frame, (LLMTextFrame, TTSSpeakFrame)):
            if self._ledger.synthesized >= len(self._ledger.sent):
                self._ledger.clear()  # all spoken so far: keep the ledger short
            self._ledger.sent += frame.text.split()
        await self.push_frame(frame, direction)

    async def replay(self) -> None:
        text = self._ledger.unsynthesized()
        self._ledger.clear()
        if text:
            await self.push_frame(TTSSpeakFrame(text, append_to_context=False))


class _After(FrameProcessor):
    def __init__(self, ledger: _Ledger, **kwargs) -> None:
        super().__init__(**kwargs)
        self._ledger = ledger

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, TTSTextFrame) and direction == FrameDirection.DOWNSTREAM:
            self._ledger.synthesized = min(
                len(self._ledger.sent), self._ledger.synthesized + len(frame.text.split())
            )
        await self.push_frame(frame, direction)


class TTSReplay:
    """The two processors around a TTS stage, and the failover hook that replays."""

    def __init__(self, name: str = "tts-replay") -> None:
        self._ledger = _Ledger()
        self.before = _Before(self._ledger, name=f"{name}:in")
        self.after = _After(self._ledger, name=f"{name}:out")

    def tts_failed_over(self) -> None:
        """The TTS moved to its fallback: speak what the failed one never synthesized (from
        a task of its own: this runs on the failing service's error path)."""
        self.before.create_task(self.before.replay(), name=f"{self.before}::replay")
