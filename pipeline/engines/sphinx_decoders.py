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

Note: pocketsphinx holds the GIL in every call, so live calls decode in worker processes
(:mod:`pipeline.engines.sphinx_workers`), each with its own pool.
"""

from __future__ import annotations

import os
import tempfile
import threading
from collections import OrderedDict
from dataclasses import dataclass

import pocketsphinx

#: Decoding sample rate of the bundled English acoustic model.
MODEL_SAMPLE_RATE = 16000

#: Search limits for live calls. Against pocketsphinx's defaults on espeak speech: real-time
#: factor ~0.25 -> ~0.2 with the same word recall. The second (flat-lexicon) pass stays on:
#: without it short words at 8 kHz ("yes") were missed 3-5 times in 10. It costs 50-250 ms
#: at the end of each utterance, which is why decoding runs in worker processes.
DECODER_OPTIONS: dict[str, object] = {"maxhmmpf": 3000, "maxwpf": 5}

#: The search over the general English model.
GENERAL_SEARCH = "lm"
#: Domain models (``pipeline.engines.sphinx_vocabulary``) kept per process, and domain
#: searches kept per decoder (each is small: its LM has a few hundred words).
MAX_DOMAIN_MODELS = 32
MAX_DOMAIN_SEARCHES = 8


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
        self._domain_lms: OrderedDict[str, pocketsphinx.NGramModel] = OrderedDict()
        # id(decoder) -> its domain searches, oldest first
        self._searches: dict[int, list[str]] = {}

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
        decoder.add_lm(GENERAL_SEARCH, lm)
        decoder.activate_search(GENERAL_SEARCH)
        return decoder

    def use_vocabulary(self, decoder: pocketsphinx.Decoder, key: str | None, arpa: str | None
                       ) -> None:
        """Decode the next utterance with domain model ``key`` (built from ``arpa`` the first
        time), or with the general model when ``key`` is ``None``. Call between utterances."""
        if key is None or arpa is None:
            decoder.activate_search(GENERAL_SEARCH)
            return
        searches = self._searches.setdefault(id(decoder), [])
        if key not in searches:
            lm = self._domain_lm(decoder, key, arpa)
            if len(searches) >= MAX_DOMAIN_SEARCHES:
                decoder.activate_search(GENERAL_SEARCH)
                decoder.remove_search(searches.pop(0))
            decoder.add_lm(key, lm)
            searches.append(key)
        decoder.activate_search(key)

    def _domain_lm(self, decoder: pocketsphinx.Decoder, key: str, arpa: str
                   ) -> pocketsphinx.NGramModel:
        with self._lock:
            lm = self._domain_lms.get(key)
            if lm is not None:
                self._domain_lms.move_to_end(key)
                return lm
        with tempfile.NamedTemporaryFile("w", suffix=".arpa", encoding="utf-8") as file:
            file.write(arpa)
            file.flush()
            lm = pocketsphinx.NGramModel(decoder.config, decoder.logmath, file.name)
        with self._lock:
            self._domain_lms[key] = lm
            if len(self._domain_lms) > MAX_DOMAIN_MODELS:
                self._domain_lms.popitem(last=False)
        return lm

    @property
    def initial_cmn(self) -> str:
        """The model's starting cepstral mean, for a caller the decoders have not heard yet.

        Pooled decoders carry the last caller's mean; each call restores its own (or this)
        before an utterance, so results do not depend on which decoder a call gets.
        """
        return self._initial_cmn

    def acquire(self) -> pocketsphinx.Decoder:
        """Take an idle decoder, or load a new one (blocking, ~0.3 s). Call from a thread."""
        with self._lock:
            self._in_use += 1
            if self._idle:
                return self._idle.pop()
        try:
            return self._new_decoder()
        except BaseException:
            with self._lock:
                self._in_use -= 1
            raise

    def release(self, decoder: pocketsphinx.Decoder) -> None:
        """Return a decoder (its utterance must be ended). Extra decoders are dropped."""
        with self._lock:
            self._in_use -= 1
            if len(self._idle) < self._max_idle:
                self._idle.append(decoder)
            else:
                self._searches.pop(id(decoder), None)

    def discard(self, decoder: pocketsphinx.Decoder) -> None:
        """Give back a checked-out decoder that failed; it is not reused."""
        with self._lock:
            self._in_use -= 1
            self._searches.pop(id(decoder), None)

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


#: The pool every PocketSphinxSTTService uses unless given another.
shared_pool = DecoderPool()
