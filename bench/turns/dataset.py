"""The labelled utterance set: espeak speech in several voices and rates.

Kinds:
- ``complete``: a whole answer, any length ("Yes", numbers, names, dates, sentences);
  the bot should answer soon after the last word.
- ``incomplete``: a sentence with a natural pause in the middle ("I'd like to book ...
  for Tuesday") or a hesitation ("um, let me think ... the blue one"); answering in the
  pause is a false end of turn.
- ``backchannel``: "uh-huh", "okay", "right" spoken while the bot talks; must not stop it.
- ``interruption``: a real barge-in while the bot talks ("wait, no, that's wrong").
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Literal

import numpy as np

from loadgen.audio import silence_pcm
from loadgen.speech import speech_pcm

RATE = 16_000
Kind = Literal["complete", "incomplete", "backchannel", "interruption"]
#: (espeak voice, words per minute)
VOICES = (("en-us+f2", 175), ("en-us", 150), ("en+m3", 190), ("en-us+f4", 165))
#: Peak amplitude above which a 20 ms frame counts as speech when trimming espeak's padding.
_VOICED = 500

COMPLETE = (
    "Yes.",
    "No.",
    "Yes please.",
    "No thanks.",
    "Four four seven one.",
    "Tuesday.",
    "Maria Gonzalez.",
    "March the fifth.",
    "My order number is one two three four.",
    "I would like to book a table for two.",
    "Can you tell me when my package will arrive?",
    "I have a question about a charge on my bill from last month.",
)
#: (first part, pause seconds, second part)
INCOMPLETE = (
    ("I'd like to book", 0.9, "for Tuesday."),
    ("My order number is", 1.0, "one two three."),
    ("Um, let me think", 1.2, "I'll take the blue one."),
    ("I was wondering if", 0.8, "you are open on Sunday."),
    ("The thing is", 1.0, "my card was charged twice."),
)
BACKCHANNELS = ("Uh-huh.", "Okay.", "Right.", "Mm-hmm.")
INTERRUPTIONS = ("Wait, no, that's wrong.", "Stop, I need to talk to a person.")


@dataclass(frozen=True, slots=True)
class Sample:
    kind: Kind
    text: str
    voice: str
    wpm: int
    audio: bytes  # 16 kHz mono int16: the caller's speech only (no leading/trailing silence)
    #: For ``incomplete``: seconds from the start of ``audio`` to the second part.
    resume_at: float = 0.0

    @property
    def seconds(self) -> float:
        return len(self.audio) / (RATE * 2)


def _trim(pcm: bytes) -> bytes:
    samples = np.frombuffer(pcm, dtype=np.int16)
    frame = RATE // 50
    loud = [
        i for i in range(0, len(samples), frame) if np.abs(samples[i : i + frame]).max(initial=0) >= _VOICED
    ]
    if not loud:
        return b""
    return samples[loud[0] : loud[-1] + frame].tobytes()


def _paused(text: str, pause: float, voice: str, wpm: int) -> tuple[bytes, float]:
    """``text`` said as one sentence whose comma pause is stretched to ``pause`` seconds.

    One sentence keeps espeak's continuation intonation at the comma (two separate phrases
    would each end on a falling, sentence-final pitch, which no caller does mid-sentence).
    Returns the audio and where the speech resumes (seconds).
    """
    audio = _speech(text, voice, wpm)
    samples = np.frombuffer(audio, dtype=np.int16)
    frame = RATE // 50
    quiet = [np.abs(samples[i : i + frame]).max(initial=0) < _VOICED for i in range(0, len(samples), frame)]
    best, run_start, best_start = 0, 0, 0
    for i, q in enumerate([*quiet, False]):
        if q and (i == 0 or not quiet[i - 1]):
            run_start = i
        if not q and i > 0 and quiet[i - 1] and i - run_start > best:
            best, best_start = i - run_start, run_start
    cut = (best_start + best) * frame * 2
    extra = silence_pcm(max(0.0, pause - best * 0.02), RATE)
    return audio[:cut] + extra + audio[cut:], (cut + len(extra)) / (RATE * 2)


def _speech(text: str, voice: str, wpm: int) -> bytes:
    return _trim(speech_pcm(text, RATE, voice=voice, rate_wpm=wpm))


@functools.lru_cache(maxsize=1)
def samples() -> tuple[Sample, ...]:
    """Every labelled sample (synthesized once per process)."""
    out: list[Sample] = []
    for voice, wpm in VOICES:
        out += [Sample("complete", t, voice, wpm, _speech(t, voice, wpm)) for t in COMPLETE]
        for first, pause, second in INCOMPLETE:
            head = _speech(first, voice, wpm) + silence_pcm(pause, RATE)
            out.append(
                Sample(
                    "incomplete",
                    f"{first} ... {second}",
                    voice,
                    wpm,
                    head + _speech(second, voice, wpm),
                    len(head) / (RATE * 2),
                )
            )
        out += [Sample("backchannel", t, voice, wpm, _speech(t, voice, wpm)) for t in BACKCHANNELS]
        out += [Sample("interruption", t, voice, wpm, _speech(t, voice, wpm)) for t in INTERRUPTIONS]
    return tuple(out)
