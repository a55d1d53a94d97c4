"""The labelled utterance set: espeak speech in several voices and rates.

Kinds:
- ``complete``: a whole answer, any length ("Yes", numbers, names, dates, sentences,
  answers that end on short words such as "Yes it is."); the bot should answer soon after
  the last word.
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
    # Complete answers that end on short function-like words: a transcript rule must not
    # hold these ("yes it is" ends on a copula, "so" and "really" close answers).
    "Yes it is.",
    "I think so.",
    "Not really.",
)
#: (first part, pause seconds, second part)
INCOMPLETE = (
    ("I'd like to book", 0.9, "for Tuesday."),
    ("My order number is", 1.0, "one two three."),
    ("Um, let me think", 1.2, "I'll take the blue one."),
    ("I was wondering if", 0.8, "you are open on Sunday."),
    ("The thing is", 1.0, "my card was charged twice."),
    # Heads that read as complete sentences: no transcript rule can tell these from an
    # answer; only prosody (Smart Turn) or a longer wait can.
    ("I need to change my address", 1.0, "to forty two Elm Street."),
    ("Can I get a large pizza", 0.9, "with extra cheese?"),
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
    #: For ``backchannel``/``interruption``: when each word has been said in full (seconds
    #: from the start of ``audio``), measured as the length of the same voice saying the
    #: words up to it (a little late: espeak lengthens a phrase's last word).
    word_ends: tuple[float, ...] = ()

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


def _paused(first: str, second: str, pause: float, voice: str, wpm: int) -> tuple[bytes, float]:
    """``first, second`` said as one sentence whose comma pause is stretched to ``pause``
    seconds.

    One sentence keeps espeak's continuation intonation at the comma (two separate phrases
    would each end on a falling, sentence-final pitch, which no caller does mid-sentence).
    The pause stretched is the quiet run nearest to where ``first`` said alone ends (not the
    longest: "Um, let me think, ..." has a longer one after "Um"). Returns the audio and
    where the speech resumes (seconds).
    """
    audio = _speech(f"{first}, {second}", voice, wpm)
    head = len(_speech(first, voice, wpm)) // 2  # samples
    samples = np.frombuffer(audio, dtype=np.int16)
    frame = RATE // 50
    quiet = [np.abs(samples[i : i + frame]).max(initial=0) < _VOICED for i in range(0, len(samples), frame)]
    runs: list[tuple[int, int]] = []  # (first quiet frame, length)
    for i, q in enumerate(quiet):
        if q and (i == 0 or not quiet[i - 1]):
            runs.append((i, 0))
        if q:
            runs[-1] = (runs[-1][0], runs[-1][1] + 1)
    start, length = min(runs, key=lambda r: abs(r[0] * frame - head)) if runs else (head // frame, 0)
    cut = (start + length) * frame * 2
    extra = silence_pcm(max(0.0, pause - length * 0.02), RATE)
    return audio[:cut] + extra + audio[cut:], (cut + len(extra)) / (RATE * 2)


def _speech(text: str, voice: str, wpm: int) -> bytes:
    return _trim(speech_pcm(text, RATE, voice=voice, rate_wpm=wpm))


def _word_ends(text: str, voice: str, wpm: int, seconds: float) -> tuple[float, ...]:
    words = text.split()
    ends = [len(_speech(" ".join(words[:k]), voice, wpm)) / (RATE * 2) for k in range(1, len(words))]
    return (*(min(e, seconds) for e in ends), seconds)


def _barge(kind: Kind, text: str, voice: str, wpm: int) -> Sample:
    audio = _speech(text, voice, wpm)
    seconds = len(audio) / (RATE * 2)
    return Sample(kind, text, voice, wpm, audio, word_ends=_word_ends(text, voice, wpm, seconds))


@functools.lru_cache(maxsize=1)
def samples() -> tuple[Sample, ...]:
    """Every labelled sample (synthesized once per process)."""
    out: list[Sample] = []
    for voice, wpm in VOICES:
        out += [Sample("complete", t, voice, wpm, _speech(t, voice, wpm)) for t in COMPLETE]
        for first, pause, second in INCOMPLETE:
            audio, resume_at = _paused(first, second, pause, voice, wpm)
            out.append(Sample("incomplete", f"{first} ... {second}", voice, wpm, audio, resume_at))
        out += [_barge("backchannel", t, voice, wpm) for t in BACKCHANNELS]
        out += [_barge("interruption", t, voice, wpm) for t in INTERRUPTIONS]
    return tuple(out)
