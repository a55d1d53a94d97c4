"""PocketSphinx decoding in worker processes, streamed one utterance at a time.

Why processes: pocketsphinx's Python binding holds the GIL for every C call. In-process,
decoding one caller's speech (real-time factor ~0.2) and especially the end-of-utterance
second pass (50-250 ms in one call) would stall the event loop that carries every other
call's audio. A decoder process takes that work off the server's interpreter entirely and
lets decoding use more than one core.

Each worker process loads the language model once and keeps a :class:`DecoderPool`; it
serves any number of interleaved utterances. The parent talks to it over a pipe through two
threads per process (a sender draining a queue, a receiver dispatching results), so the
event loop only ever does ``queue.put`` on the audio path. A worker that dies is replaced
on the next utterance; the utterances it held end without a transcript.

Measured (2 vCPU, other test suites running): a worker process is ~127 MB resident with one
decoder loaded (interpreter + numpy/soxr ~33 MB, shared LM ~34 MB, decoder ~61 MB) and grows
~61 MB for each further utterance it decodes at the same moment. End of speech (VAD stop)
to final transcript: median ~180 ms, max ~290 ms with three callers speaking at once;
event-loop lag in the server process stays at a few milliseconds.

This module must stay light to import: it is what a spawned worker imports.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pipeline.engines.sphinx_vocabulary import Vocabulary

#: Called with (text, final, cepstral_mean); final results carry the caller's updated mean.
#: A failed utterance reports ("", True, None).
ResultCallback = Callable[[str, bool, "str | None"], None]

_ids = itertools.count(1)


def _serve(inbox: Connection, outbox: Connection, interim_bytes: int) -> None:
    """Worker process main loop: decode utterances as their messages arrive."""
    from pipeline.engines.sphinx_decoders import DecoderPool
    from pipeline.engines.sphinx_frontend import Frontend
    from pipeline.engines.sphinx_vocabulary import reads_digits

    pool = DecoderPool()
    pool.preload(1)
    vocabularies: dict[str, str] = {}  # domain model key -> ARPA text (sent once per worker)
    # utterance id -> [decoder, frontend, last interim text, 16 kHz bytes since the last
    # interim, the utterance's 16 kHz audio (domain decoders: for the digit pass) or None]
    active: dict[int, list] = {}

    def hypothesis(decoder) -> str:
        hyp = decoder.hyp()
        return hyp.hypstr.strip() if hyp else ""

    while True:
        try:
            message = inbox.recv()
        except (EOFError, OSError):
            return
        kind, utt = message[0], message[1]
        try:
            if kind == "audio":
                state = active.get(utt)
                if state is None:
                    continue
                pcm = state[1].process(message[2])
                if not pcm:
                    continue
                state[0].process_raw(pcm, False, False)
                if state[4] is not None:
                    state[4].append(pcm)
                state[3] += len(pcm)
                if state[3] >= interim_bytes:
                    state[3] = 0
                    text = hypothesis(state[0])
                    if text and text != state[2]:
                        state[2] = text
                        outbox.send(("interim", utt, text))
            elif kind == "vocabulary":  # a domain model; its first decoder is loaded now
                vocabularies[message[1]] = message[2]
                pool.release(pool.acquire((message[1], message[2])))
            elif kind == "start":
                key = message[4] if len(message) > 4 else None
                arpa = vocabularies.get(key) if key else None
                decoder = pool.acquire((key, arpa) if key and arpa else None)
                active[utt] = [decoder, Frontend(message[3]), "", 0, [] if arpa else None]
                decoder.set_cmn(message[2] or pool.initial_cmn)
                decoder.start_utt()
            elif kind in ("end", "cancel"):
                state = active.pop(utt, None)
                if state is None:
                    continue
                decoder = state[0]
                if kind == "end" and (tail := state[1].process(b"", last=True)):
                    decoder.process_raw(tail, False, False)
                    if state[4] is not None:
                        state[4].append(tail)
                decoder.end_utt()
                if kind == "end":
                    text, cmn = hypothesis(decoder), decoder.get_cmn(False)
                    if state[4] is not None and reads_digits(text):
                        text = _digit_pass(decoder, b"".join(state[4]), cmn) or text
                    outbox.send(("final", utt, text, cmn))
                pool.release(decoder)
            elif kind == "stop":
                return
        except Exception:
            state = active.pop(utt, None)
            if state is not None:
                pool.discard(state[0])
            outbox.send(("final", utt, "", None))


def _digit_pass(decoder, pcm: bytes, cmn: str) -> str:
    """Decode ``pcm`` again with the domain decoder's ``[lead] digit+`` grammar.

    The domain model hears espeak's "it is four four seven one" as "it is all or four seven
    one" when other words of the workflow compete; the grammar allows nothing but a number
    (there: "it is four four seven one"). Only run when the first pass heard 2+ digit
    words, so sentences are never forced into digits. It does not rescue 8 kHz audio, where
    the digits' fricatives are gone (docs/TURN_TAKING.md).
    """
    from pipeline.engines.sphinx_vocabulary import DIGITS_SEARCH

    main = decoder.current_search()
    try:
        decoder.activate_search(DIGITS_SEARCH)
    except Exception:  # a model without digits has no grammar
        return ""
    try:
        decoder.set_cmn(cmn)
        decoder.start_utt()
        decoder.process_raw(pcm, False, True)
        decoder.end_utt()
        hyp = decoder.hyp()
        return hyp.hypstr.strip() if hyp else ""
    finally:
        decoder.activate_search(main)


class _Worker:
    """One decoder process and the two parent threads that talk to it."""

    def __init__(self, interim_bytes: int) -> None:
        # A plain subprocess running this module (not multiprocessing's spawn, which would
        # re-import the server's __main__), talking over two pipes it inherits.
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        root = str(Path(__file__).resolve().parents[2])
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, *sys.path])}
        try:
            self.process = subprocess.Popen(  # noqa: S603 - our interpreter, our module
                [sys.executable, "-m", __name__, str(to_child_r), str(from_child_w)] + [str(interim_bytes)],
                pass_fds=(to_child_r, from_child_w),
                stdin=subprocess.DEVNULL,
                env=env,
            )
        finally:
            os.close(to_child_r)
            os.close(from_child_w)
        self._conn_out = Connection(to_child_w, readable=False)
        self._conn_in = Connection(from_child_r, writable=False)
        self._outbox: queue.SimpleQueue[tuple | None] = queue.SimpleQueue()
        self._callbacks: dict[int, ResultCallback] = {}
        self._lock = threading.Lock()
        self._vocabularies: set[str] = set()
        self.alive = True
        threading.Thread(target=self._send_loop, daemon=True, name="sphinx-send").start()
        threading.Thread(target=self._receive_loop, daemon=True, name="sphinx-recv").start()

    @property
    def load(self) -> int:
        return len(self._callbacks)

    def open(self, utt: int, cmn: str | None, rate: int, on_result: ResultCallback,
             vocabulary: Vocabulary | None = None) -> None:
        with self._lock:
            self._callbacks[utt] = on_result
        if vocabulary is not None:
            self.prepare(vocabulary)
        self.send(("start", utt, cmn, rate, vocabulary.key if vocabulary else None))

    def prepare(self, vocabulary: Vocabulary) -> None:
        """Send a domain model once; the worker loads a decoder for it as it arrives."""
        with self._lock:
            if vocabulary.key in self._vocabularies:
                return
            self._vocabularies.add(vocabulary.key)
        self.send(("vocabulary", vocabulary.key, vocabulary.arpa))

    def forget(self, utt: int) -> None:
        with self._lock:
            self._callbacks.pop(utt, None)

    def send(self, message: tuple) -> None:
        self._outbox.put(message)

    def close(self) -> None:
        self._outbox.put(("stop", 0))
        self._outbox.put(None)
        try:
            self.process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def _send_loop(self) -> None:
        while (message := self._outbox.get()) is not None:
            try:
                self._conn_out.send(message)
            except (OSError, ValueError):
                return

    def _receive_loop(self) -> None:
        while True:
            try:
                kind, utt, *rest = self._conn_in.recv()
            except (EOFError, OSError):
                break
            with self._lock:
                callback = self._callbacks.get(utt)
                if kind == "final":
                    self._callbacks.pop(utt, None)
            if callback is not None:
                _deliver(callback, rest[0], kind == "final", rest[1] if kind == "final" else None)
        # The process is gone: its utterances end without a transcript.
        self.alive = False
        with self._lock:
            orphans = list(self._callbacks.values())
            self._callbacks.clear()
        for callback in orphans:
            _deliver(callback, "", True, None)


def _deliver(callback: ResultCallback, text: str, final: bool, cmn: str | None) -> None:
    """Run a result callback; a failing one (say, its call's loop has closed) is ignored."""
    # The receiver thread must keep serving the other calls.
    with contextlib.suppress(Exception):
        callback(text, final, cmn)


class Utterance:
    """One caller utterance streaming into a worker process. Methods never block."""

    def __init__(self, worker: _Worker, utt: int) -> None:
        self.worker = worker
        self._utt = utt

    def feed(self, pcm: bytes) -> None:
        """Queue int16 mono audio (at the utterance's rate) for decoding."""
        self.worker.send(("audio", self._utt, pcm))

    def finish(self) -> None:
        """End the utterance; the final result arrives through the callback."""
        self.worker.send(("end", self._utt))

    def cancel(self) -> None:
        """End the utterance without a result."""
        self.worker.forget(self._utt)
        self.worker.send(("cancel", self._utt))


class SphinxWorkers:
    """A set of decoder processes; utterances go to the least busy one."""

    def __init__(self, processes: int | None = None, *, interim_every_secs: float = 0.3) -> None:
        # One process decodes ~5 callers speaking at once (real-time factor ~0.2) and costs
        # ~127 MB, so: one per two cores, at most four, leaving cores for the server itself.
        self._size = processes or max(1, min(4, (os.cpu_count() or 2) // 2))
        self._interim_bytes = int(interim_every_secs * 16000) * 2
        self._workers: list[_Worker] = []
        self._lock = threading.Lock()
        atexit.register(self.close)

    def start(self) -> None:
        """Start (or replace dead) worker processes. Blocking (~0.5 s per process)."""
        with self._lock:
            self._workers = [w for w in self._workers if w.alive and w.process.poll() is None]
            while len(self._workers) < self._size:
                self._workers.append(_Worker(self._interim_bytes))

    def open_utterance(
        self,
        cmn: str | None,
        on_result: ResultCallback,
        *,
        sample_rate: int = 16000,
        after: Utterance | None = None,
        vocabulary: Vocabulary | None = None,
    ) -> Utterance:
        """Begin an utterance on the least loaded live worker (starting workers if needed).

        ``sample_rate``: rate of the audio that will be fed; the worker resamples to 16 kHz.
        ``after``: the same caller's previous utterance. Its worker is reused while alive,
        so one caller's results come back in the order they spoke.
        ``vocabulary``: a domain language model to decode with (the general one if ``None``).
        """
        if after is not None and after.worker.alive and after.worker.process.poll() is None:
            worker = after.worker
        else:
            with self._lock:
                live = [w for w in self._workers if w.alive and w.process.poll() is None]
            if len(live) < self._size:
                self.start()  # replaces dead workers; Popen returns in a few ms
                with self._lock:
                    live = [w for w in self._workers if w.alive]
            worker = min(live, key=lambda w: w.load)
        utt = next(_ids)
        worker.open(utt, cmn, sample_rate, on_result, vocabulary)
        return Utterance(worker, utt)

    def prepare(self, vocabulary: Vocabulary) -> None:
        """Have every live worker load a decoder for ``vocabulary`` ahead of its first
        utterance (~0.3 s in the worker, off the caller's first turn). Never blocks."""
        with self._lock:
            live = [w for w in self._workers if w.alive]
        for worker in live:
            worker.prepare(vocabulary)

    def pids(self) -> list[int]:
        with self._lock:
            return [w.process.pid for w in self._workers if w.alive]

    def close(self) -> None:
        with self._lock:
            workers, self._workers = self._workers, []
        for worker in workers:
            worker.close()


#: The decoder processes every PocketSphinxSTTService uses unless given others.
shared_workers = SphinxWorkers()


if __name__ == "__main__":
    _serve(
        Connection(int(sys.argv[1]), writable=False),
        Connection(int(sys.argv[2]), readable=False),
        int(sys.argv[3]),
    )
