"""A process-wide pool of PocketSphinx decoders over one shared English language model.

The English model ships inside the ``pocketsphinx`` wheel (``pocketsphinx.get_model_path()``).
What a decoder costs, measured with pocketsphinx 5.0.4 on x86-64 (resident memory):

- the n-gram language model (``en-us.lm.bin``): ~34 MB. It is loaded ONCE per process and
  shared by every decoder (``NGramModel`` is reference-counted in C).
- per decoder: acoustic model + pronunciation dictionary ~29 MB, plus the n-gram search
  built over the shared LM ~32 MB, so ~61 MB each (~95 MB if each loaded its own LM).
- loading a decoder takes ~0.3 s of CPU.

Decoders are not tied to calls: a call checks one out for the length of one utterance (VAD
start to VAD stop) and returns it, so memory follows the number of callers speaking at the
same moment, not the number of calls. Idle decoders are kept up to ``max_idle``; a burst
beyond that creates extra decoders, which are freed when returned to a full pool.

Calls on a workflow decode with its domain model (:mod:`pipeline.engines.sphinx_vocabulary`)
on separate decoders whose dictionary holds only that model's words: kept idle per model
(``MAX_DOMAIN_IDLE``) for the ``MAX_DOMAIN_MODELS`` most recently used models.

Note: pocketsphinx holds the GIL in every call, so live calls decode in worker processes
(:mod:`pipeline.engines.sphinx_workers`), each with its own pool.
"""

from __future__ import annotations

import functools
import os
import tempfile
import threading
from collections import OrderedDict
from dataclasses import dataclass

import pocketsphinx

from pipeline.engines.sphinx_vocabulary import DIGITS_SEARCH, digits_grammar

#: Decoding sample rate of the bundled English acoustic model.
MODEL_SAMPLE_RATE = 16000

#: Search limits for live calls. Against pocketsphinx's defaults on espeak speech: real-time
#: factor ~0.25 -> ~0.2 with the same word recall. The second (flat-lexicon) pass stays on:
#: without it short words at 8 kHz ("yes") were missed 3-5 times in 10. It costs 50-250 ms
#: at the end of each utterance, which is why decoding runs in worker processes.
DECODER_OPTIONS: dict[str, object] = {"maxhmmpf": 3000, "maxwpf": 5}

#: Domain models (``pipeline.engines.sphinx_vocabulary``) whose idle decoders are kept per
#: process, and idle decoders kept per domain model.
MAX_DOMAIN_MODELS = 32
MAX_DOMAIN_IDLE = 2


@dataclass(frozen=True)
class DecoderStats:
    """Counters for tests and diagnostics."""

    created: int
    idle: int
    in_use: int


class DecoderPool:
    """Thread-safe pool of ready PocketSphinx decoders sharing one language model."""

    def __init__(self, *, max_idle: int | None = None) -> None:
        self._lock = threading.Lock()
        self._idle: list[pocketsphinx.Decoder] = []
        self._max_idle = max_idle if max_idle is not None else max(2, os.cpu_count() or 2)
        self._lm: pocketsphinx.NGramModel | None = None
        self._created = 0
        self._in_use = 0
        self._initial_cmn = ""
        # Domain decoders: idle ones per domain model (least recently used first), and the
        # domain model of every domain decoder alive.
        self._domain_idle: OrderedDict[str, list[pocketsphinx.Decoder]] = OrderedDict()
        self._domain_of: dict[int, str] = {}

    def _new_decoder(self) -> pocketsphinx.Decoder:
        # Acoustic model and dictionary are per decoder; the LM object is shared.
        decoder = pocketsphinx.Decoder(
            lm=None, samprate=MODEL_SAMPLE_RATE, loglevel="FATAL", **DECODER_OPTIONS
        )
        with self._lock:
            if self._lm is None:
                self._lm = pocketsphinx.NGramModel(
                    decoder.config,
                    decoder.logmath,
                    pocketsphinx.get_model_path("en-us/en-us.lm.bin"),
                )
                self._initial_cmn = decoder.get_cmn(False)
            lm = self._lm
            self._created += 1
        decoder.add_lm("lm", lm)
        decoder.activate_search("lm")
        return decoder

    def _new_domain_decoder(self, key: str, arpa: str) -> pocketsphinx.Decoder:
        """A decoder over domain model ``arpa`` with a dictionary of just its words.

        Adding a small LM as a search to a full-dictionary decoder takes ~13 s (the search is
        built over all 134k dictionary words); a decoder whose dictionary holds only the
        model's words loads in ~20 ms.
        """
        words = {line.split()[1] for line in arpa.splitlines()
                 if line[:1] in "-0123456789" and len(line.split()) == 3}
        pronunciations = _dictionary()
        with tempfile.TemporaryDirectory() as folder:
            lm_path, dict_path = f"{folder}/lm.arpa", f"{folder}/words.dict"
            with open(lm_path, "w", encoding="utf-8") as file:
                file.write(arpa)
            with open(dict_path, "w", encoding="utf-8") as file:
                file.writelines(line for w in sorted(words) for line in pronunciations.get(w, ()))
            decoder = pocketsphinx.Decoder(lm=lm_path, dict=dict_path, samprate=MODEL_SAMPLE_RATE,
                                           loglevel="FATAL", **DECODER_OPTIONS)
        if grammar := digits_grammar({w for w in words if w in pronunciations}):
            decoder.add_jsgf_string(DIGITS_SEARCH, grammar)
        with self._lock:
            self._created += 1
            self._domain_of[id(decoder)] = key
        return decoder

    @property
    def initial_cmn(self) -> str:
        """The model's starting cepstral mean, for a caller the decoders have not heard yet.

        Pooled decoders carry the last caller's mean; each call restores its own (or this)
        before an utterance, so results do not depend on which decoder a call gets.
        """
        return self._initial_cmn

    def acquire(self, vocabulary: tuple[str, str] | None = None) -> pocketsphinx.Decoder:
        """Take an idle decoder, or load a new one (blocking, ~0.3 s). Call from a thread.

        ``vocabulary``: ``(key, arpa)`` of a domain language model
        (:mod:`pipeline.engines.sphinx_vocabulary`) to decode with instead of general English.
        """
        with self._lock:
            self._in_use += 1
            if vocabulary is None and self._idle:
                return self._idle.pop()
            if vocabulary is not None and self._domain_idle.get(vocabulary[0]):
                self._domain_idle.move_to_end(vocabulary[0])
                return self._domain_idle[vocabulary[0]].pop()
        try:
            if vocabulary is not None:
                return self._new_domain_decoder(*vocabulary)
            return self._new_decoder()
        except BaseException:
            with self._lock:
                self._in_use -= 1
            raise

    def release(self, decoder: pocketsphinx.Decoder) -> None:
        """Return a decoder (its utterance must be ended). Extra decoders are dropped."""
        with self._lock:
            self._in_use -= 1
            key = self._domain_of.get(id(decoder))
            if key is None:
                if len(self._idle) < self._max_idle:
                    self._idle.append(decoder)
                return
            idle = self._domain_idle.setdefault(key, [])
            self._domain_idle.move_to_end(key)
            if len(idle) < MAX_DOMAIN_IDLE:
                idle.append(decoder)
            else:
                self._domain_of.pop(id(decoder), None)
            while len(self._domain_idle) > MAX_DOMAIN_MODELS:
                _, dropped = self._domain_idle.popitem(last=False)
                for old in dropped:
                    self._domain_of.pop(id(old), None)

    def discard(self, decoder: pocketsphinx.Decoder) -> None:
        """Give back a checked-out decoder that failed; it is not reused."""
        with self._lock:
            self._in_use -= 1
            self._domain_of.pop(id(decoder), None)

    def preload(self, count: int = 1) -> None:
        """Load the shared LM and ``count`` idle decoders ahead of the first call (blocking)."""
        with self._lock:
            missing = max(0, min(count, self._max_idle) - len(self._idle))
        fresh = [self._new_decoder() for _ in range(missing)]
        with self._lock:
            self._idle.extend(fresh)

    def stats(self) -> DecoderStats:
        with self._lock:
            return DecoderStats(created=self._created, idle=len(self._idle), in_use=self._in_use)


@functools.cache
def _dictionary() -> dict[str, list[str]]:
    """The bundled pronunciation dictionary: word -> its lines (alternates included)."""
    entries: dict[str, list[str]] = {}
    path = pocketsphinx.get_model_path("en-us/cmudict-en-us.dict")
    with open(path, encoding="utf-8") as file:
        for line in file:
            word = line.split(" ", 1)[0]
            entries.setdefault(word.split("(", 1)[0], []).append(line)
    return entries


#: The pool every PocketSphinxSTTService uses unless given another.
shared_pool = DecoderPool()
