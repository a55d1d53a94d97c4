"""The plain description of one call that the pipeline is built from."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pipecat.processors.frame_processor import FrameProcessor

from pipeline.providers import ProviderCredentials, ProviderSettings
from runtime.contract import AgentSession
from runtime.workflow import END_OF_TURN_STT, TurnSettings

TurnDetection = Literal["smart-turn", "speech-timeout", "provider"]
Eagerness = Literal["low", "normal", "high"]


@dataclass
class CallSpec:
    """Everything ``run_call`` needs besides the transport.

    ``providers``/``credentials`` choose the speech services (see ``pipeline/providers``);
    tests and tools may pass ready-made ``stt_service``/``tts_service`` processors instead.
    ``turn_detection``: ``smart-turn`` (Silero VAD + Smart Turn v3, the default),
    ``speech-timeout`` (end the turn after ``speech_timeout_secs`` of silence) or
    ``provider`` (the STT decides, e.g. Deepgram Flux); ``None`` picks ``provider`` for
    Flux and ``smart-turn`` otherwise.
    """

    call_id: str
    organization_id: str
    channel: str  # "webrtc", "twilio", "telnyx", ...
    audio_in_sample_rate: int
    audio_out_sample_rate: int
    agent: AgentSession
    providers: ProviderSettings = field(default_factory=ProviderSettings)
    credentials: ProviderCredentials = field(default_factory=ProviderCredentials)
    turn_detection: TurnDetection | None = None
    speech_timeout_secs: float = 0.6
    #: ``smart-turn``: how soon a turn Smart Turn doubts ends (``pipeline.turn_models.EAGERNESS``);
    #: ``turn_stop_secs`` replaces that level's silence fallback.
    turn_eagerness: Eagerness = "normal"
    turn_stop_secs: float | None = None
    #: Barge-in while the agent speaks: only transcripts with ``interruption_min_words``
    #: words that are not back-channels stop it; ``False``: any voice activity does.
    backchannel_filter: bool = True
    interruption_min_words: int = 1
    #: Spoken while a tool call is still running after ``tool_filler_after_secs`` (None: never).
    tool_filler: str | None = None
    tool_filler_after_secs: float = 1.0
    vad_stop_secs: float = 0.2
    dtmf_timeout_secs: float = 1.5  # keypad digits are one turn once this long passes without one
    record_path: Path | None = None
    greet: bool = True
    idle_timeout_secs: float | None = 120.0  # pipeline idle (no audio activity at all)
    user_idle_timeout_secs: float | None = None  # caller silent after the agent spoke
    idle_prompts: list[str] = field(default_factory=list)  # then the call ends
    max_duration_secs: float | None = None
    #: Phrases the workflow's callers are likely to say (biases the offline recogniser).
    vocabulary: tuple[str, ...] = ()
    stt_service: FrameProcessor | None = None
    tts_service: FrameProcessor | None = None

    def apply_turn_settings(self, turn: TurnSettings) -> None:
        """Take a workflow's ``settings.turn``: ``stop_timeout_seconds`` is the speech
        timeout for ``speech-timeout`` and the silence fallback for ``smart-turn``."""
        self.turn_detection = turn.strategy
        self.turn_eagerness = turn.eagerness
        if turn.stop_timeout_seconds is not None:
            if turn.strategy == "speech-timeout":
                self.speech_timeout_secs = turn.stop_timeout_seconds
            else:
                self.turn_stop_secs = turn.stop_timeout_seconds
        self.backchannel_filter = turn.interruption.backchannel_filter
        self.interruption_min_words = turn.interruption.min_words

    def resolved_turn_detection(self) -> TurnDetection:
        flux = self.providers.stt.provider in END_OF_TURN_STT
        if self.turn_detection == "provider" and not flux and self.stt_service is None:
            return "smart-turn"  # this STT never says when the turn ends
        if self.turn_detection is not None:
            return self.turn_detection
        return "provider" if flux else "smart-turn"
