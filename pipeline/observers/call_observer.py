"""One pipecat observer per call that feeds the latency, transcript and usage trackers.

A single observer (rather than one per concern) keeps the order of events between the
trackers: pipecat runs each observer in its own task, so separate observers could see a
reply end before the latency of its first audio. Frames are matched by the processor that
pushed them, so each is counted once even though it passes several processors.
"""

from __future__ import annotations

from collections.abc import Callable

from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    InputAudioRawFrame,
    LLMFullResponseEndFrame,
    LLMTextFrame,
    MetricsFrame,
    TranscriptionFrame,
    TTSAudioRawFrame,
    TTSTextFrame,
    UserStoppedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.observers.base_observer import BaseObserver, FramePushed
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from pipeline.observers.latency import LatencyTracker
from pipeline.observers.transcript import TranscriptTracker
from pipeline.observers.usage import UsageTracker


class CallObserver(BaseObserver):
    """Routes the frames that matter for turn records, latency and usage."""

    def __init__(
        self,
        *,
        latency: LatencyTracker,
        transcript: TranscriptTracker,
        usage: UsageTracker,
        on_usage_changed: Callable[[], None] | None = None,
    ):
        super().__init__()
        self.latency = latency
        self.transcript = transcript
        self.usage = usage
        self._on_usage_changed = on_usage_changed
        self.user_aggregator: FrameProcessor | None = None
        self.agent: FrameProcessor | None = None
        self.output: FrameProcessor | None = None
        self.audio_out_frames = 0

    def bind(self, *, user_aggregator, agent, output) -> None:
        self.user_aggregator = user_aggregator
        self.agent = agent
        self.output = output

    async def on_push_frame(self, data: FramePushed) -> None:
        frame = data.frame
        if isinstance(frame, InputAudioRawFrame):  # the bulk of all pushes: nothing to see
            return
        src = data.source
        if isinstance(frame, TTSAudioRawFrame):
            self.latency.tts_audio(data.timestamp)
        elif isinstance(frame, LLMTextFrame):
            if src is self.agent:
                self.latency.agent_token(data.timestamp)
        elif isinstance(frame, TranscriptionFrame):
            if data.destination is self.user_aggregator:
                self.latency.transcript(data.timestamp)
        elif isinstance(frame, VADUserStoppedSpeakingFrame):
            if src is self.user_aggregator and data.direction == FrameDirection.DOWNSTREAM:
                self.latency.user_speech_ended(data.timestamp, frame.stop_secs)
        elif isinstance(frame, UserStoppedSpeakingFrame):
            # With the provider's end of turn there is no VAD: the turn's end is the mark.
            if src is self.user_aggregator and data.direction == FrameDirection.DOWNSTREAM:
                self.latency.user_turn_ended(data.timestamp)
        elif isinstance(frame, BotStartedSpeakingFrame):
            if src is self.output and data.direction == FrameDirection.DOWNSTREAM:
                self.latency.audio_out(data.timestamp)
        elif isinstance(frame, TTSTextFrame):
            if src is self.output:
                self.transcript.spoken_text(frame.text)
        elif isinstance(frame, LLMFullResponseEndFrame):
            if src is self.output:
                self.transcript.reply_played()
        elif isinstance(frame, MetricsFrame):
            changed = False
            for item in frame.data:
                if item.processor == src.name:
                    changed = self.usage.add_metric(item) or changed
            if changed and self._on_usage_changed:
                self._on_usage_changed()
