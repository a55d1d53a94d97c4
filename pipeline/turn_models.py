"""Silero VAD and Smart Turn v3, loaded once per process and shared by every call.

Both models ship inside the pipecat wheel. Loading an ONNX model takes tens of milliseconds
and tens of megabytes, so per call we only create the small per-call state: Silero's
recurrent state lives in our ``_SharedSileroModel`` wrapper, Smart Turn keeps its audio
buffer in the analyzer and its ONNX session is stateless. ``onnxruntime.InferenceSession.run``
is safe to call from several threads at once; Smart Turn runs on the process's shared,
low-priority inference threads (``pipeline.inference_pool``), not pipecat's thread per call.

VAD runs on the event loop instead: one Silero window (32 ms of 8 kHz audio) takes about
0.1 ms, and pipecat's hop to a per-call executor thread for every 20 ms frame cost twice the
inference itself plus a thread per call (measured: 370 vs 180 µs per frame). The windows of
all calls on the loop are scored in batches (``pipeline.vad_batch``).
"""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib import resources
from typing import Literal

import onnxruntime as ort
from pipecat.audio.turn.smart_turn.base_smart_turn import BaseSmartTurn, SmartTurnParams
from pipecat.audio.turn.smart_turn.local_smart_turn_v3 import LocalSmartTurnAnalyzerV3
from pipecat.audio.vad.silero import SileroOnnxModel, SileroVADAnalyzer
from pipecat.audio.vad.vad_analyzer import VADAnalyzer, VADParams, VADState
from pipecat.frames.frames import TranscriptionFrame, VADUserStoppedSpeakingFrame
from pipecat.turns.user_stop import TurnAnalyzerUserTurnStopStrategy

from pipeline import vad_batch
from pipeline.inference_pool import inference_pool

_lock = threading.Lock()
_silero_session: ort.InferenceSession | None = None
_smart_turn_session: ort.InferenceSession | None = None


def _model_path(package: str, name: str) -> str:
    return str(resources.files(package).joinpath(name))


def silero_session() -> ort.InferenceSession:
    """The process-wide Silero VAD session (created on first use)."""
    global _silero_session
    with _lock:
        if _silero_session is None:
            opts = ort.SessionOptions()
            opts.inter_op_num_threads = 1
            opts.intra_op_num_threads = 1
            _silero_session = ort.InferenceSession(
                _model_path("pipecat.audio.vad.data", "silero_vad.onnx"),
                providers=["CPUExecutionProvider"],
                sess_options=opts,
            )
        return _silero_session


def smart_turn_session() -> ort.InferenceSession:
    """The process-wide Smart Turn v3 session (created on first use)."""
    global _smart_turn_session
    with _lock:
        if _smart_turn_session is None:
            opts = ort.SessionOptions()
            opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
            opts.inter_op_num_threads = 1
            opts.intra_op_num_threads = 1
            opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            _smart_turn_session = ort.InferenceSession(
                _model_path("pipecat.audio.turn.smart_turn.data", "smart-turn-v3.2-cpu.onnx"),
                sess_options=opts,
            )
        return _smart_turn_session


def loaded() -> bool:
    return _silero_session is not None and _smart_turn_session is not None


def preload() -> None:
    """Load both models now (server start-up) so the first call does not pay for it."""
    silero_session()
    smart_turn_session()


class _SharedSileroModel(SileroOnnxModel):
    """Silero's per-stream state around the shared session."""

    def __init__(self, session: ort.InferenceSession):  # noqa: D107 - no super(): no loading
        self.session = session
        self.reset_states()
        self.sample_rates = [8000, 16000]


class SharedSileroVADAnalyzer(SileroVADAnalyzer):
    """``SileroVADAnalyzer`` whose ONNX session is shared across calls."""

    def __init__(self, *, sample_rate: int | None = None, params: VADParams | None = None):
        VADAnalyzer.__init__(self, sample_rate=sample_rate, params=params)
        self._model = _SharedSileroModel(silero_session())
        self._windows_since_reset = 0
        self._low_confidence_windows = 0
        self._batcher: vad_batch.SileroBatcher | None = None
        self._scored: float | None = None
        self._scored_at = float("-inf")

    async def analyze_audio(self, buffer: bytes) -> VADState:
        """Run the analyzer on the loop: cheaper than the per-frame thread hop it replaces.
        A frame that completes one window has it scored in a batch with other calls'
        windows (``pipeline.vad_batch``); the verdict is then pipecat's, from that score."""
        window_bytes = self._vad_frames_num_bytes
        one_window = (len(self._vad_buffer) + len(buffer)) // window_bytes == 1
        if vad_batch.max_wait() > 0 and one_window:
            if self._batcher is None:
                self._batcher = vad_batch.batcher(self._model.session, self.sample_rate)
            window = (self._vad_buffer + buffer)[:window_bytes]
            loop = asyncio.get_running_loop()
            # a window ready right after the last one was scored: this call's audio is
            # queued behind its VAD (a loaded loop, a burst after a stall); waiting for a
            # batch per window would never catch up, so score it at once
            behind = loop.time() - self._scored_at < vad_batch.BACKLOG_GAP_SECONDS
            urgent = behind or self._may_decide()
            self._scored = await self._batcher.score(self._model, window, urgent=urgent)
            self._scored_at = loop.time()
        return self._run_analyzer(buffer)

    def _may_decide(self) -> bool:
        """Whether the next window can turn the verdict: speech starts or stops with it."""
        if self._vad_state in (VADState.QUIET, VADState.STARTING):
            return self._vad_starting_count + 1 >= self._vad_start_frames
        return self._vad_stopping_count + 1 >= self._vad_stop_frames

    def voice_confidence(self, buffer: bytes) -> float:
        scored, self._scored = self._scored, None
        if scored is None:  # no batch: no window in the frame, or several (scored one by one)
            return super().voice_confidence(buffer)
        self._maybe_reset_model(scored)
        return scored

    async def cleanup(self) -> None:
        if self._batcher is not None:
            self._batcher.release(self._model)
        await super().cleanup()


class SharedSmartTurnAnalyzer(LocalSmartTurnAnalyzerV3):
    """``LocalSmartTurnAnalyzerV3`` whose ONNX session is shared across calls."""

    def __init__(self, *, sample_rate: int | None = None, params: SmartTurnParams | None = None):
        BaseSmartTurn.__init__(self, sample_rate=sample_rate, params=params)
        self._log_data = False
        self._session = smart_turn_session()

    @property
    def _model_executor(self) -> ThreadPoolExecutor:
        """The process's shared inference threads (``pipeline.inference_pool``) instead of a
        thread per call: simultaneous turn ends queue rather than share the core with the loop."""
        return inference_pool()


#: Words a complete answer does not end on: a final transcript ending on one announces more
#: ("My order number is", "I'd like to", "um"), whatever Smart Turn says. Kept to words that
#: hardly ever close an answer: articles and possessives, conjunctions, prepositions that are
#: not also particles ("log in", "hold on" end sentences), fillers, "think"/"like" ("let me
#: think", "I'd like"), and a copula after a noun ("the thing is"; "yes it is" is complete).
CONTINUATION_WORDS = frozenset(
    """a an the my your our their and or but because if than of to for with from at about
    into by as um uh er erm think like""".split()  # noqa: SIM905
)
_COPULAS = frozenset({"is", "are", "was", "were"})
_PRONOUNS = frozenset(
    {"i", "it", "we", "they", "he", "she", "you", "that", "this", "there", "here", "what", "who"}
)


def _words(transcript: str) -> list[str]:
    words = [w.strip(".,!?;:'\"") for w in transcript.lower().replace("-", " ").split()]
    return [w for w in words if w]


def announces_more(transcript: str) -> bool:
    """Whether a final transcript stops where more must follow: on a word of
    ``CONTINUATION_WORDS``, on a copula after a noun ("my order number is"), or on a
    trailing comma, dash or ellipsis ("I'd like to book,")."""
    words = _words(transcript)
    if not words:
        return False
    if words[-1] in CONTINUATION_WORDS or transcript.rstrip().endswith((",", "-", "...")):
        return True
    return words[-1] in _COPULAS and len(words) > 1 and words[-2] not in _PRONOUNS


def reads_complete(transcript: str) -> bool:
    """Whether a final transcript reads as a complete answer, of any length: it has words
    and does not stop on one that announces more."""
    return bool(_words(transcript)) and not announces_more(transcript)


def complete_short_answer(transcript: str, *, max_words: int = 5) -> bool:
    """A complete answer of at most ``max_words`` words ("Yes.", "four four seven one")."""
    return reads_complete(transcript) and len(_words(transcript)) <= max_words


@dataclass(frozen=True, slots=True)
class TurnTiming:
    """How long the caller's silence must last (seconds after the VAD's stop, which itself
    comes ``vad_stop_secs`` after the last sound) before the turn ends:

    - Smart Turn "complete" and a transcript that does not announce more: at once;
    - Smart Turn "incomplete" but a transcript that reads complete: ``confirm_secs``;
    - otherwise (a transcript that announces more, or none): ``fallback_secs``.
    """

    confirm_secs: float
    fallback_secs: float


Eagerness = Literal["low", "normal", "high"]
#: ``settings.turn.eagerness``: how soon an answer Smart Turn doubts is taken as finished.
#: Measured per level in ``switchboard eval turns`` (docs/TURN_TAKING.md).
EAGERNESS: dict[str, TurnTiming] = {
    "low": TurnTiming(confirm_secs=0.8, fallback_secs=2.0),
    "normal": TurnTiming(confirm_secs=0.3, fallback_secs=1.3),
    "high": TurnTiming(confirm_secs=0.15, fallback_secs=0.9),
}


def stop_delay(smart_complete: bool, transcript: str, timing: TurnTiming) -> float:
    """Silence after the VAD stop before the turn ends, given Smart Turn's verdict and the
    STT's final transcript (see :class:`TurnTiming`)."""
    if announces_more(transcript) or not transcript.strip():
        return timing.fallback_secs
    return 0.0 if smart_complete else timing.confirm_secs


class ConfirmingSmartTurnStopStrategy(TurnAnalyzerUserTurnStopStrategy):
    """Smart Turn's stop strategy with the STT's final transcript as a second opinion, both
    ways (:func:`stop_delay`):

    - a transcript that stops on a word announcing more ("My order number is", "um") holds
      the turn even when Smart Turn says complete, until ``timing.fallback_secs`` of silence;
    - a transcript that reads complete ends the turn after ``timing.confirm_secs`` of
      silence even when Smart Turn says incomplete (it misjudges short answers: "Yes.");
    - Smart Turn "complete" on a transcript that reads complete ends it at once.

    Silences are counted from the VAD's stop; speech before the turn ends cancels the wait.
    """

    def __init__(self, *, turn_analyzer: BaseSmartTurn, timing: TurnTiming | None = None, **kwargs):
        super().__init__(turn_analyzer=turn_analyzer, **kwargs)
        self.timing = timing or EAGERNESS["normal"]
        self._vad_stopped_at = 0.0
        self._hold_task: asyncio.Task | None = None

    async def _handle_vad_user_stopped_speaking(self, frame: VADUserStoppedSpeakingFrame) -> None:
        self._vad_stopped_at = time.monotonic()  # before Smart Turn's inference
        await super()._handle_vad_user_stopped_speaking(frame)

    async def _handle_transcription(self, frame: TranscriptionFrame) -> None:
        if not frame.finalized and self._timeout_expired and self._turn_complete:
            self._text = frame.text  # pipecat would end the turn here without asking
            await self._maybe_trigger_user_turn_stopped()
            return
        await super()._handle_transcription(frame)

    async def _discard_pending_end_of_turn(self) -> None:
        await self._cancel_hold()
        await super()._discard_pending_end_of_turn()

    async def cleanup(self) -> None:
        await self._cancel_hold()
        await super().cleanup()

    async def _maybe_trigger_user_turn_stopped(self) -> None:
        if not self._vad_stopped or self._vad_user_speaking or not self.wait_for_transcript:
            await super()._maybe_trigger_user_turn_stopped()  # no VAD stop: pipecat's fallback
            return
        if not self._text or not (self._transcript_finalized or self._timeout_task is None):
            return  # the final transcript is not in yet
        delay = stop_delay(self._turn_complete, self._text, self.timing)
        remaining = delay - (time.monotonic() - self._vad_stopped_at)
        if remaining > 0:
            await self._cancel_hold()
            self._hold_task = self.task_manager.create_task(self._hold(remaining), f"{self}::hold")
            return
        await self._cancel_hold()  # the analyzer's own fallback may get here first
        if self._timeout_task:
            await self.task_manager.cancel_task(self._timeout_task)
            self._timeout_task = None
        await self.trigger_user_turn_stopped()

    async def _hold(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        self._hold_task = None
        await self._maybe_trigger_user_turn_stopped()

    async def _cancel_hold(self) -> None:
        task, self._hold_task = self._hold_task, None
        if task is not None and task is not asyncio.current_task():
            await self.task_manager.cancel_task(task)


def smart_turn_stop_strategy(timing: TurnTiming) -> ConfirmingSmartTurnStopStrategy:
    """Switchboard's default stop strategy for one call: Smart Turn v3 (its own silence
    fallback at ``timing.fallback_secs``) confirmed by the transcript."""
    analyzer = SharedSmartTurnAnalyzer(params=SmartTurnParams(stop_secs=timing.fallback_secs))
    return ConfirmingSmartTurnStopStrategy(turn_analyzer=analyzer, timing=timing)
