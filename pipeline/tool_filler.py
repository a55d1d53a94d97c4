"""A short line ("One moment.") while a slow tool call keeps the caller waiting.

The agent processor tells :class:`ToolFiller` when a tool call starts and when its result
is in. If the result takes longer than ``after_secs``, the filler is spoken once for that
reply: as a ``TTSSpeakFrame`` the TTS speaks as an utterance of its own, even in the middle
of the reply, and not added to the LLM context or to the agent's turn text (the turn
records what the agent generated; the filler is the platform's, not the agent's).
Configured per workflow: ``settings.tool_filler`` (text, or null for none).
"""

from __future__ import annotations

import asyncio

from pipecat.frames.frames import TTSSpeakFrame
from pipecat.processors.frame_processor import FrameProcessor

#: How long a tool call may run before the filler is spoken.
TOOL_FILLER_AFTER_SECS = 1.0


class ToolFiller:
    def __init__(
        self, processor: FrameProcessor, text: str | None, after_secs: float = TOOL_FILLER_AFTER_SECS
    ):
        self._processor = processor
        self.text = text.strip() if text and text.strip() else None
        self.after_secs = after_secs
        self._task: asyncio.Task | None = None
        self._said = False
        self.spoken = 0  # fillers said on this call

    def reply_started(self) -> None:
        self._said = False

    def tool_started(self) -> None:
        if self.text is None or self._said or self._task is not None:
            return
        self._task = self._processor.create_task(self._say_later(), name=f"{self._processor}::filler")

    async def tool_done(self) -> None:
        task, self._task = self._task, None
        if task is not None and not task.done():
            await self._processor.cancel_task(task)

    async def _say_later(self) -> None:
        await asyncio.sleep(self.after_secs)
        self._task = None
        self._said = True
        self.spoken += 1
        assert self.text is not None
        await self._processor.push_frame(TTSSpeakFrame(self.text, append_to_context=False))
