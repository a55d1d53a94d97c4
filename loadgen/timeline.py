"""What one call observed, and the figures derived from it.

Definitions (times are ``time.monotonic()`` seconds on the caller side):

- setup time: the ``start`` message sent on the media stream → the first non-silent bot
  audio frame received (the greeting).
- voice-to-voice, per turn: the last frame of caller speech sent → the first non-silent bot
  audio frame received after it.
- lateness, per bot frame: arrival time minus playout time, floored at 0. A bot utterance's
  playout clock starts at the arrival of its first frame and advances by the duration of
  each frame received, so a frame is late when the audio before it has already finished
  playing. A new utterance begins after each caller turn and after a ``clear`` (barge-in).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class Turn:
    speech_end_at: float
    response_at: float | None = None
    barge_in: bool = False

    @property
    def voice_to_voice(self) -> float | None:
        return None if self.response_at is None else self.response_at - self.speech_end_at


@dataclass
class CallTimeline:
    stream_started_at: float | None = None
    first_bot_audio_at: float | None = None
    turns: list[Turn] = field(default_factory=list)
    #: Lateness of each bot frame in seconds (≥ 0).
    lateness: list[float] = field(default_factory=list)
    bot_frames: int = 0
    bot_audio_seconds: float = 0.0
    last_bot_frame_at: float | None = None
    clears: int = 0
    _playout_at: float | None = None

    # -- events ---------------------------------------------------------------------------
    def on_stream_start(self, at: float) -> None:
        self.stream_started_at = at

    def on_bot_audio(self, at: float, duration: float, voiced: bool) -> None:
        """A bot audio frame of ``duration`` seconds arrived at ``at``."""
        if self._playout_at is None:
            self._playout_at = at
        late = at - self._playout_at
        self.lateness.append(late if late > 0.0 else 0.0)
        self._playout_at += duration
        self.bot_frames += 1
        self.bot_audio_seconds += duration
        self.last_bot_frame_at = at
        if voiced:
            if self.first_bot_audio_at is None:
                self.first_bot_audio_at = at
            if self.turns and self.turns[-1].response_at is None:
                self.turns[-1].response_at = at

    def on_caller_speech_end(self, at: float, *, barge_in: bool = False) -> None:
        """The last frame of a caller utterance was sent at ``at``: a new turn begins."""
        self.turns.append(Turn(speech_end_at=at, barge_in=barge_in))
        self._playout_at = None

    def on_utterance_end(self) -> None:
        """The bot's answer ended (a channel that streams silence between answers, WebRTC):
        the next bot frame starts a new playout clock."""
        self._playout_at = None

    def on_clear(self, at: float) -> None:
        """The server asked to drop queued bot audio (barge-in): a new utterance begins."""
        self.clears += 1
        self._playout_at = None

    # -- queries --------------------------------------------------------------------------
    def playout_end(self) -> float | None:
        """When the bot audio received so far finishes playing (None before any audio)."""
        return self._playout_at

    def bot_idle(self, now: float, quiet: float) -> bool:
        """True once the bot's audio has played out and nothing arrived for ``quiet`` s."""
        if self.last_bot_frame_at is None:
            return False
        if now - self.last_bot_frame_at < quiet:
            return False
        return self._playout_at is None or now >= self._playout_at

    @property
    def setup_time(self) -> float | None:
        if self.stream_started_at is None or self.first_bot_audio_at is None:
            return None
        return self.first_bot_audio_at - self.stream_started_at

    def voice_to_voice(self) -> list[float]:
        return [t.voice_to_voice for t in self.turns if t.voice_to_voice is not None]
