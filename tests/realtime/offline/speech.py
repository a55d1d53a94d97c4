"""The scripted callers' speech: each line synthesized by a fresh process, the same in
every run.

espeak-ng does not say a line the same way twice in one process: its wave generator keeps
state from one synthesis to the next (the samples change, and their number). Synthesized
in the pytest process, a caller's audio, and so what PocketSphinx hears at the server,
would depend on everything synthesized there before: the tests that ran earlier, and the
order in which the callers reached their lines. A process of its own per line says each
one as espeak-ng says it first.
"""

from __future__ import annotations

import base64
import subprocess
import sys
from collections.abc import Iterable

from loadgen.audio import resample

_SAY = """
import base64, sys
from pipeline.engines import espeak
pcm, rate = espeak.synthesize(sys.argv[1], voice=sys.argv[2], rate_wpm=int(sys.argv[3]))
print(rate, base64.b64encode(pcm).decode())
"""


def _say(text: str, voice: str, rate_wpm: int) -> tuple[bytes, int]:
    done = subprocess.run([sys.executable, "-c", _SAY, text, voice, str(rate_wpm)],
                          capture_output=True, text=True, check=True, timeout=60)  # fmt: skip
    rate, pcm = done.stdout.split()
    return base64.b64decode(pcm), int(rate)


class CallerSpeech:
    """The callers' lines, ``(text, voice, rate_wpm)``, synthesized once."""

    def __init__(self, lines: Iterable[tuple[str, str, int]]) -> None:
        self._native = {line: _say(*line) for line in dict.fromkeys(lines)}

    def pcm(self, text: str, sample_rate: int, *, voice: str, rate_wpm: int) -> bytes:
        """``loadgen.speech.speech_pcm``'s signature and result: 16-bit mono PCM."""
        pcm, native_rate = self._native[(text, voice, rate_wpm)]
        return resample(pcm, native_rate, sample_rate)
