"""Turn strategies replayed over the labelled set in simulated (audio) time.

Every sample's audio is fed in 20 ms frames through the real Silero VAD and the real Smart
Turn v3 model (``pipeline.turn_models``); time is the audio's own clock, not the wall clock,
so the figures are deterministic and do not depend on how loaded the machine is. Two
things are constants rather than measured: ``STT_FINAL_SECS`` (VAD stop -> final transcript,
the offline STT's measured median) and Smart Turn's inference time, which is measured on
this machine and reported separately (it does depend on load).

What each strategy decides, modelled on pipecat 1.14's user-turn strategies:

- ``smart-turn``: at each VAD stop, Smart Turn v3 judges the audio so far; "complete" ends
  the turn, "incomplete" waits until ``stop_secs`` of silence (pipecat default 3 s).
- ``speech-timeout``: the turn ends ``timeout`` after the VAD stop.
- ``provider``: the Deepgram Flux fake's end of turn (``tests/fakes``): 400 ms of silence
  by an energy detector. The real Flux model is not measured here.
- ``smart-turn+confirm`` (Switchboard's default, ``pipeline.turn_models``): as smart-turn,
  but an "incomplete" verdict on a short utterance whose final transcript is a complete
  short answer ("yes", "Tuesday", "four four seven one") ends the turn on the transcript;
  the fallback is 1.5 s.

Barge-in (``backchannel``/``interruption`` samples spoken while the bot talks):

- ``vad`` (pipecat default): the bot stops when the VAD confirms speech (start_secs).
- ``words`` (Switchboard's, ``pipeline.barge_in``): while the bot talks, it stops once an
  interim transcript holds a word that is not a back-channel; "uh-huh", "okay", "right"
  alone never stop it. Interims are modelled as arriving at the VAD start and every 0.3 s
  (the offline STT's cadence) with the words said so far, spread evenly over the audio.
"""

from __future__ import annotations

import re
import statistics
import time
from dataclasses import dataclass

import numpy as np
from pipecat.audio.vad.vad_analyzer import VADParams, VADState

from bench.turns.dataset import RATE, Sample
from pipeline.barge_in import is_backchannel
from pipeline.turn_models import SharedSileroVADAnalyzer, SharedSmartTurnAnalyzer, complete_short_answer

FRAME = RATE // 50 * 2  # bytes in 20 ms
FRAME_SECS = 0.02
LEAD_SECS = 0.5
TAIL_SECS = 4.0
STT_FINAL_SECS = 0.18
FLUX_FAKE_ENDPOINTING = 0.4
FLUX_FAKE_RMS = 400.0


@dataclass(frozen=True)
class TurnStrategy:
    name: str
    kind: str  # smart-turn | speech-timeout | provider
    vad_stop_secs: float = 0.2
    stop_secs: float = 3.0  # smart-turn fallback
    timeout: float = 0.6  # speech-timeout
    confirm_short: bool = False


STRATEGIES = (
    TurnStrategy("pipecat defaults (smart-turn, 3 s fallback)", "smart-turn"),
    TurnStrategy(
        "smart-turn+confirm, 1.5 s fallback (switchboard)", "smart-turn", stop_secs=1.5, confirm_short=True
    ),
    TurnStrategy("speech-timeout 0.6 s", "speech-timeout"),
    TurnStrategy("provider (Flux fake)", "provider"),
)


def _padded(sample: Sample) -> bytes:
    return bytes(int(LEAD_SECS * RATE) * 2) + sample.audio + bytes(int(TAIL_SECS * RATE) * 2)


def _frames(audio: bytes) -> list[bytes]:
    return [audio[i : i + FRAME] for i in range(0, len(audio) - FRAME + 1, FRAME)]


def vad_states(audio: bytes, stop_secs: float) -> list[bool]:
    """Per 20 ms frame: whether the VAD reports the caller speaking after it."""
    vad = SharedSileroVADAnalyzer(params=VADParams(stop_secs=stop_secs))
    vad.set_sample_rate(RATE)
    out, speaking = [], False
    for frame in _frames(audio):
        state = vad._run_analyzer(frame)
        if state == VADState.SPEAKING:
            speaking = True
        elif state == VADState.QUIET:
            speaking = False
        out.append(speaking)
    return out


class SmartTurn:
    """Smart Turn v3's verdict on an audio segment, plus how long inference took."""

    def __init__(self) -> None:
        self._analyzer = SharedSmartTurnAnalyzer(sample_rate=RATE)
        self._analyzer.set_sample_rate(RATE)
        self.inference_secs: list[float] = []

    def complete(self, pcm: bytes) -> bool:
        audio = np.frombuffer(pcm, dtype=np.int16).astype(np.float32) / 32768.0
        started = time.perf_counter()
        result = self._analyzer._predict_endpoint(audio[-8 * RATE :])
        self.inference_secs.append(time.perf_counter() - started)
        return result["prediction"] == 1


def heard_before(sample: Sample, t_audio: float) -> str:
    """What the STT's final transcript holds for speech up to ``t_audio`` (the label text,
    cut at the pause for incomplete samples: an oracle transcript)."""
    if sample.kind == "incomplete" and t_audio < sample.resume_at:
        return sample.text.split(" ... ")[0]
    return sample.text.replace(" ... ", " ")


def turn_end(sample: Sample, strategy: TurnStrategy, smart: SmartTurn) -> float | None:
    """Audio time (from the start of speech) at which the strategy ends the caller's turn."""
    audio = _padded(sample)
    frames = _frames(audio)
    if strategy.kind == "provider":
        silent = 0
        started = False
        for i, frame in enumerate(frames):
            rms = float(np.sqrt(np.mean(np.frombuffer(frame, np.int16).astype(np.float64) ** 2)))
            if rms >= FLUX_FAKE_RMS:
                started, silent = True, 0
            elif started:
                silent += 1
                if silent * FRAME_SECS >= FLUX_FAKE_ENDPOINTING:
                    return (i + 1) * FRAME_SECS - LEAD_SECS
        return None
    speaking = vad_states(audio, strategy.vad_stop_secs)
    first = next((i for i, s in enumerate(speaking) if s), None)
    if first is None:
        return None
    pending_since: float | None = None  # silence start while waiting after "incomplete"
    for i in range(first + 1, len(speaking)):
        t = (i + 1) * FRAME_SECS
        if speaking[i]:
            pending_since = None
            continue
        if speaking[i - 1]:  # VAD stop: the strategy decides
            t_speech = t - LEAD_SECS
            if strategy.kind == "speech-timeout":
                pending_since = t
                continue
            start = max(0, int((first * FRAME_SECS - 0.7) * RATE) * 2)
            if smart.complete(audio[start : (i + 1) * FRAME]):
                return t_speech + STT_FINAL_SECS
            if strategy.confirm_short and complete_short_answer(heard_before(sample, t_speech)):
                return t_speech + STT_FINAL_SECS
            pending_since = t - strategy.vad_stop_secs
            continue
        if pending_since is not None:
            limit = strategy.timeout if strategy.kind == "speech-timeout" else strategy.stop_secs
            if t - pending_since >= limit:
                return t - LEAD_SECS + (STT_FINAL_SECS if strategy.kind == "speech-timeout" else 0)
    return None


@dataclass(frozen=True)
class BargeStrategy:
    name: str
    words: bool
    min_speech: float = 0.0


BARGE_STRATEGIES = (
    BargeStrategy("pipecat defaults (any VAD start)", words=False),
    BargeStrategy("words, back-channels ignored (switchboard)", words=True),
)
#: Interim transcripts arrive this often while the caller speaks (the offline STT's rate).
INTERIM_EVERY = 0.3


def barge_in(sample: Sample, strategy: BargeStrategy) -> float | None:
    """Seconds from the caller's first sound to the bot's audio stopping (``None``: the bot
    kept talking). The bot's output stops one 20 ms frame after the interruption."""
    audio = _padded(sample)
    speaking = vad_states(audio, 0.2)
    first = next((i for i, s in enumerate(speaking) if s), None)
    if first is None:
        return None
    t_vad = (first + 1) * FRAME_SECS - LEAD_SECS
    if not strategy.words:
        return t_vad + FRAME_SECS
    words = re.findall(r"[a-z'-]+", sample.text.lower())
    seconds = sample.seconds
    # The first interim transcript after min_speech with a word that is not a back-channel
    # (words are assumed evenly spread over the utterance).
    t = max(t_vad, strategy.min_speech)
    while t <= seconds + STT_FINAL_SECS:
        said = words[: max(0, int(len(words) * min(1.0, t / seconds)))]
        if said and not is_backchannel(" ".join(said)):
            return t + FRAME_SECS
        t += INTERIM_EVERY if t < seconds else STT_FINAL_SECS
    return None


def p95(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]


def evaluate(samples: tuple[Sample, ...]) -> dict:
    smart = SmartTurn()
    results: dict = {"turn_end": {}, "barge_in": {}}
    complete = [s for s in samples if s.kind == "complete"]
    incomplete = [s for s in samples if s.kind == "incomplete"]
    for strategy in STRATEGIES:
        waits = []
        for s in complete:
            end = turn_end(s, strategy, smart)
            waits.append(TAIL_SECS if end is None else max(0.0, end - s.seconds))
        false_ends = sum(
            1 for s in incomplete if (end := turn_end(s, strategy, smart)) is not None and end < s.resume_at
        )
        results["turn_end"][strategy.name] = {
            "late_pct": round(100 * sum(w > 1.5 for w in waits) / len(waits), 1),
            "p95_wait_ms": round(1000 * (p95(waits) or 0)),
            "median_wait_ms": round(1000 * statistics.median(waits)),
            "false_end_pct": round(100 * false_ends / len(incomplete), 1),
            "late": [s.text + f" [{s.voice}]" for s, w in zip(complete, waits, strict=True) if w > 1.5],
        }
    barge = [s for s in samples if s.kind in ("backchannel", "interruption")]
    for strategy in BARGE_STRATEGIES:
        reactions = [barge_in(s, strategy) for s in barge]
        real = [r for s, r in zip(barge, reactions, strict=True) if s.kind == "interruption"]
        back = [r for s, r in zip(barge, reactions, strict=True) if s.kind == "backchannel"]
        results["barge_in"][strategy.name] = {
            "reaction_p95_ms": round(1000 * (p95([r for r in real if r is not None]) or 0)),
            "missed_interruptions": sum(r is None for r in real),
            "false_interruption_pct": round(100 * sum(r is not None for r in back) / len(back), 1),
        }
    inference = smart.inference_secs
    results["smart_turn_inference_ms"] = {
        "median": round(1000 * statistics.median(inference), 1) if inference else None,
        "p95": round(1000 * (p95(inference) or 0), 1),
        "note": "wall-clock, depends on machine load; not included in the waits above",
    }
    results["samples"] = {
        k: sum(s.kind == k for s in samples)
        for k in ("complete", "incomplete", "backchannel", "interruption")
    }
    return results
