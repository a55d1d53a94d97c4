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

import random
import statistics
import time
import zlib
from dataclasses import dataclass

import numpy as np
from pipecat.audio.vad.vad_analyzer import VADParams, VADState

from bench.turns.dataset import RATE, Sample
from pipeline.barge_in import is_backchannel
from pipeline.turn_models import (
    EAGERNESS,
    SharedSileroVADAnalyzer,
    SharedSmartTurnAnalyzer,
    TurnTiming,
    complete_short_answer,
    stop_delay,
)

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
    stop_secs: float = 3.0  # smart-turn fallback (silence after the VAD stop, as pipecat counts)
    timeout: float = 0.6  # speech-timeout
    #: The previous Switchboard rule: a complete short answer (<= 5 words) ends the turn on
    #: its transcript when Smart Turn says incomplete; no veto.
    confirm_short: bool = False
    #: Switchboard's policy (``pipeline.turn_models.stop_delay``) with these timings.
    timing: TurnTiming | None = None
    #: Feed the policy a noisy transcript (``noisy_transcript``) instead of the label text.
    noisy: bool = False


STRATEGIES = (
    TurnStrategy("pipecat defaults (smart-turn, 3 s fallback)", "smart-turn"),
    TurnStrategy(
        "before: smart-turn+short-answer confirm, 1.5 s", "smart-turn", stop_secs=1.5, confirm_short=True
    ),
    TurnStrategy("switchboard smart-turn (eagerness normal)", "smart-turn", timing=EAGERNESS["normal"]),
    TurnStrategy(
        "  same, noisy transcript (~15 % WER)", "smart-turn", timing=EAGERNESS["normal"], noisy=True
    ),
    TurnStrategy("  eagerness low", "smart-turn", timing=EAGERNESS["low"]),
    TurnStrategy("  eagerness high", "smart-turn", timing=EAGERNESS["high"]),
    TurnStrategy("speech-timeout 0.6 s", "speech-timeout"),
    TurnStrategy("provider (Flux fake)", "provider"),
)


def _padded(sample: Sample) -> bytes:
    return bytes(int(LEAD_SECS * RATE) * 2) + sample.audio + bytes(int(TAIL_SECS * RATE) * 2)


def _frames(audio: bytes) -> list[bytes]:
    return [audio[i : i + FRAME] for i in range(0, len(audio) - FRAME + 1, FRAME)]


def vad_states(
    audio: bytes, stop_secs: float, *, start_secs: float = 0.2, confidence: float = 0.7
) -> list[bool]:
    """Per 20 ms frame: whether the VAD reports the caller speaking after it."""
    vad = SharedSileroVADAnalyzer(
        params=VADParams(stop_secs=stop_secs, start_secs=start_secs, confidence=confidence)
    )
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
    """Smart Turn v3's verdict on an audio segment, plus how long inference took. Verdicts
    are cached per segment: every smart-turn strategy asks about the same VAD stops."""

    def __init__(self) -> None:
        self._analyzer = SharedSmartTurnAnalyzer(sample_rate=RATE)
        self._analyzer.set_sample_rate(RATE)
        self.inference_secs: list[float] = []
        self._cache: dict[tuple[int, int], bool] = {}

    def complete(self, pcm: bytes) -> bool:
        key = (zlib.crc32(pcm), len(pcm))
        if key not in self._cache:
            audio = np.frombuffer(pcm, dtype=np.int16).astype(np.float32) / 32768.0
            started = time.perf_counter()
            result = self._analyzer._predict_endpoint(audio[-8 * RATE :])
            self.inference_secs.append(time.perf_counter() - started)
            self._cache[key] = result["prediction"] == 1
        return self._cache[key]


def heard_before(sample: Sample, t_audio: float) -> str:
    """What the STT's final transcript holds for speech up to ``t_audio`` (the label text,
    cut at the pause for incomplete samples: an oracle transcript)."""
    if sample.kind == "incomplete" and t_audio < sample.resume_at:
        return sample.text.split(" ... ")[0]
    return sample.text.replace(" ... ", " ")


#: Words a noisy STT may put in place of another (short words it confuses easily).
_CONFUSIONS = ("a", "the", "and", "in", "it", "for", "is", "on", "uh", "to", "two", "four", "no")


def noisy_transcript(text: str, key: str) -> str:
    """``text`` as an imperfect STT might hear it: each word dropped with probability 0.08
    or replaced (by a short word) with 0.07, about 15 % word errors. Seeded by ``key`` (the
    sample), so every run hears the same errors."""
    rng = random.Random(zlib.crc32(key.encode()))
    out = []
    for word in text.split():
        roll = rng.random()
        if roll < 0.08:
            continue
        out.append(rng.choice(_CONFUSIONS) if roll < 0.15 else word)
    return " ".join(out)


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
    deadline: float | None = None  # audio time the turn ends unless speech resumes
    for i in range(first + 1, len(speaking)):
        t = (i + 1) * FRAME_SECS
        if speaking[i]:
            deadline = None
            continue
        if speaking[i - 1]:  # VAD stop: the strategy decides
            t_speech = t - LEAD_SECS
            if strategy.kind == "speech-timeout":
                deadline = t + strategy.timeout + STT_FINAL_SECS
                continue
            start = max(0, int((first * FRAME_SECS - 0.7) * RATE) * 2)
            complete = smart.complete(audio[start : (i + 1) * FRAME])
            heard = heard_before(sample, t_speech)
            if strategy.noisy:
                heard = noisy_transcript(heard, f"{sample.voice}|{sample.text}|{heard}")
            if strategy.timing is not None:
                # The final transcript comes STT_FINAL_SECS after the VAD stop; the turn
                # ends once it is in and the policy's silence has passed.
                delay = stop_delay(complete, heard, strategy.timing)
                deadline = t + max(delay, STT_FINAL_SECS)
            elif complete or (strategy.confirm_short and complete_short_answer(heard)):
                deadline = t + STT_FINAL_SECS
            else:
                deadline = t + strategy.stop_secs
        if deadline is not None and t >= deadline - 1e-9:
            return t - LEAD_SECS
    return None


@dataclass(frozen=True)
class BargeStrategy:
    name: str
    words: bool
    #: Silero's start_secs / confidence while the bot speaks (pipecat: 0.2 / 0.7).
    vad_start_secs: float = 0.2
    vad_confidence: float = 0.7
    #: "vad": interim transcripts count from the VAD start (Switchboard before); "stream":
    #: any interim with a real word interrupts, VAD or not (``pipeline.barge_in``).
    interims: str = "vad"
    #: Seconds between interim transcripts while the caller speaks.
    interim_every: float = 0.3
    #: Transcripts as a ~15 % WER STT might hear them (``noisy_transcript``).
    noisy: bool = False


BARGE_STRATEGIES = (
    BargeStrategy("pipecat defaults (any VAD start)", words=False),
    BargeStrategy(
        "pipecat, VAD start 0.05 s / conf 0.5", words=False, vad_start_secs=0.05, vad_confidence=0.5
    ),
    BargeStrategy("before: words after the VAD start", words=True),
    BargeStrategy("words, VAD start 0.05 s / conf 0.5", words=True, vad_start_secs=0.05, vad_confidence=0.5),
    BargeStrategy("switchboard: words from any interim", words=True, interims="stream"),
    BargeStrategy("  same, noisy transcript (~15 % WER)", words=True, interims="stream", noisy=True),
    BargeStrategy("  same, interims every 0.1 s", words=True, interims="stream", interim_every=0.1),
)


def barge_in(sample: Sample, strategy: BargeStrategy) -> float | None:
    """Seconds from the caller's first sound to the bot's audio stopping (``None``: the bot
    kept talking). The bot's output stops one 20 ms frame after the interruption.

    Interim transcripts hold the words said so far: a word is in a transcript once it has
    been said in full (``Sample.word_ends``), with no further recognition delay (an
    optimistic STT)."""
    audio = _padded(sample)
    speaking = vad_states(
        audio, 0.2, start_secs=strategy.vad_start_secs, confidence=strategy.vad_confidence
    )
    first = next((i for i, s in enumerate(speaking) if s), None)
    t_vad = None if first is None else (first + 1) * FRAME_SECS - LEAD_SECS
    if not strategy.words:
        return None if t_vad is None else t_vad + FRAME_SECS
    heard = _heard_words(sample, strategy.noisy)
    seconds = sample.seconds
    if strategy.interims == "stream":
        t = strategy.interim_every
    elif t_vad is None:
        return None
    else:
        t = t_vad
    # The first interim (or the final, STT_FINAL_SECS after the end) with a word that is
    # not a back-channel.
    times = []
    while t < seconds:
        times.append(t)
        t += strategy.interim_every
    for t in [*times, seconds + STT_FINAL_SECS]:
        said = [w for w, end in heard if end <= t]
        if said and not is_backchannel(" ".join(said)):
            return t + FRAME_SECS
    return None


def _heard_words(sample: Sample, noisy: bool) -> list[tuple[str, float]]:
    """The sample's words with when each was said in full (``Sample.word_ends``); noisy:
    as ``noisy_transcript`` mishears them (a dropped word is never heard, a replaced one
    is heard as the replacement at the same time)."""
    words = sample.text.split()
    if not noisy:
        return list(zip(words, sample.word_ends, strict=True))
    rng = random.Random(zlib.crc32(f"{sample.voice}|{sample.text}".encode()))
    out = []
    for word, end in zip(words, sample.word_ends, strict=True):
        roll = rng.random()
        if roll >= 0.08:
            out.append((rng.choice(_CONFUSIONS) if roll < 0.15 else word, end))
    return out


def first_word_said(sample: Sample) -> float | None:
    """When the first word that is not a back-channel has been said in full: no strategy
    that needs a real word can stop the bot earlier."""
    said: list[str] = []
    for word, end in zip(sample.text.split(), sample.word_ends, strict=True):
        said.append(word)
        if not is_backchannel(" ".join(said)):
            return end
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
        false_end_samples = [
            s for s in incomplete if (end := turn_end(s, strategy, smart)) is not None and end < s.resume_at
        ]
        false_ends = len(false_end_samples)
        results["turn_end"][strategy.name] = {
            "late_pct": round(100 * sum(w > 1.5 for w in waits) / len(waits), 1),
            "p95_wait_ms": round(1000 * (p95(waits) or 0)),
            "median_wait_ms": round(1000 * statistics.median(waits)),
            "false_end_pct": round(100 * false_ends / len(incomplete), 1),
            "late": [s.text + f" [{s.voice}]" for s, w in zip(complete, waits, strict=True) if w > 1.5],
            "false_ends": [s.text + f" [{s.voice}]" for s in false_end_samples],
        }
    barge = [s for s in samples if s.kind in ("backchannel", "interruption")]
    for strategy in BARGE_STRATEGIES:
        reactions = [barge_in(s, strategy) for s in barge]
        real = [r for s, r in zip(barge, reactions, strict=True) if s.kind == "interruption"]
        back = [r for s, r in zip(barge, reactions, strict=True) if s.kind == "backchannel"]
        results["barge_in"][strategy.name] = {
            "reaction_p95_ms": round(1000 * (p95([r for r in real if r is not None]) or 0)),
            "missed_interruptions": sum(r is None for r in real),
            "reactions_ms": sorted(round(1000 * r) for r in real if r is not None),
            "false_interruption_pct": round(100 * sum(r is not None for r in back) / len(back), 1),
        }
    bound = [w for s in barge if s.kind == "interruption" and (w := first_word_said(s)) is not None]
    results["first_real_word_said_ms"] = {
        "p95": round(1000 * (p95(bound) or 0)),
        "all": sorted(round(1000 * w) for w in bound),
        "note": "when the first non-back-channel word of each interruption has been said in "
        "full: a lower bound for any strategy that needs a real word",
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
