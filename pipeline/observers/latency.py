"""Per-turn latency: end of the caller's speech to each stage of the agent's answer.

Stages (all measured from the estimated end of speech, i.e. the VAD stop minus the VAD's
``stop_secs`` hang time; with the STT provider's own end of turn, which runs no VAD, from the
moment the provider ended the turn): final transcript from STT, first token from the agent, first audio
from TTS, first audio written to the caller. Timestamps are the pipeline clock's, taken when
each frame was pushed, so observer queueing adds no error.
"""

from __future__ import annotations

from pipeline.events import TurnLatency

_NS_PER_MS = 1_000_000


class LatencyTracker:
    """Collects the stage timestamps of the current user→agent cycle."""

    def __init__(self) -> None:
        self._speech_end: int | None = None
        self._last_transcript: int | None = None
        self._first_token: int | None = None
        self._first_tts_audio: int | None = None
        self._completed: TurnLatency | None = None
        self._user_bot_ms: float | None = None

    # -- observed events (pipeline clock, nanoseconds) ----------------------------------
    def user_speech_ended(self, ts: int, stop_secs: float) -> None:
        self._speech_end = ts - int(stop_secs * 1e9)
        self._first_token = None
        self._first_tts_audio = None

    def user_turn_ended(self, ts: int) -> None:
        """The aggregator closed the user turn; the mark when no VAD stop preceded it."""
        if self._speech_end is None:
            self.user_speech_ended(ts, 0.0)

    def transcript(self, ts: int) -> None:
        self._last_transcript = ts

    def agent_token(self, ts: int) -> None:
        if self._speech_end is not None and self._first_token is None:
            self._first_token = ts

    def tts_audio(self, ts: int) -> None:
        if self._first_token is not None and self._first_tts_audio is None:
            self._first_tts_audio = ts

    def audio_out(self, ts: int) -> None:
        if self._speech_end is None or self._first_token is None:
            return
        end = self._speech_end
        stt = self._last_transcript
        self._completed = TurnLatency(
            stt_final_ms=_ms(end, stt) if stt is not None and stt > end - 30 * 10**9 else None,
            agent_first_token_ms=_ms(end, self._first_token),
            tts_first_audio_ms=_ms(end, self._first_tts_audio),
            first_audio_out_ms=_ms(end, ts),
        )
        self._speech_end = None
        self._first_token = None
        self._first_tts_audio = None
        self._last_transcript = None

    def user_bot_latency(self, seconds: float) -> None:
        """pipecat's ``UserBotLatencyObserver`` measurement (user stop → bot speech)."""
        self._user_bot_ms = round(seconds * 1000, 1)

    def take(self) -> TurnLatency | None:
        """The breakdown of the cycle that completed last (once)."""
        done, self._completed = self._completed, None
        if done is not None:
            done.user_bot_ms = self._user_bot_ms
            self._user_bot_ms = None
        return done


def _ms(start: int, at: int | None) -> float | None:
    if at is None:
        return None
    return round(max(0, at - start) / _NS_PER_MS, 1)
