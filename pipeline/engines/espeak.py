"""espeak-ng speech synthesis through its C API (ctypes).

The shared library and the voice data both ship inside the ``espeakng-loader`` wheel, so
nothing has to be installed on the host. espeak-ng keeps global state (one voice, one
parameter set, one output callback per process) and is not thread-safe, so every call goes
through one process-wide lock and the library is initialised once per process, lazily.

Synthesis runs in ``AUDIO_OUTPUT_SYNCHRONOUS`` mode: ``espeak_Synth`` blocks the calling
thread and hands 16-bit mono PCM to a callback as it is produced (one chunk per
``CHUNK_MS`` of audio). ctypes releases the GIL while the C code runs, so synthesising in a
worker thread leaves the event loop free.
"""

from __future__ import annotations

import ctypes
import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass

import espeakng_loader

# espeak_AUDIO_OUTPUT
_AUDIO_OUTPUT_SYNCHRONOUS = 2
# espeak_Initialize options: never call exit() on a fatal error inside the library.
_INITIALIZE_DONT_EXIT = 0x8000
# espeak_PARAMETER
_PARAM_RATE = 1
# espeak_POSITION_TYPE
_POS_CHARACTER = 1
# espeak_Synth flags
_CHARS_UTF8 = 1
# espeak_ERROR
_EE_OK = 0

#: Size of the chunks handed to the callback (milliseconds of audio). espeak synthesises
#: ~500x faster than real time, so even the first chunk is ready in well under a
#: millisecond; bigger chunks mean fewer frames for the pipeline to move per sentence.
CHUNK_MS = 100

MIN_RATE_WPM = 80
MAX_RATE_WPM = 450

# int SynthCallback(short *wav, int numsamples, espeak_EVENT *events)
_SYNTH_CALLBACK = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p
)

#: Receives each PCM chunk; return False to abort the rest of the synthesis.
ChunkSink = Callable[[bytes], "bool | None"]


class _Voice(ctypes.Structure):
    """espeak_VOICE, used to select a voice by language when no voice has that name."""

    _fields_ = [
        ("name", ctypes.c_char_p),
        ("languages", ctypes.c_char_p),
        ("identifier", ctypes.c_char_p),
        ("gender", ctypes.c_ubyte),
        ("age", ctypes.c_ubyte),
        ("variant", ctypes.c_ubyte),
        ("xx1", ctypes.c_ubyte),
        ("score", ctypes.c_int),
        ("spare", ctypes.c_void_p),
    ]


class EspeakError(RuntimeError):
    """espeak-ng failed to initialise, select a voice or synthesise."""


@dataclass
class _Engine:
    lib: ctypes.CDLL
    sample_rate: int
    callback: object  # the ctypes callback object; must stay referenced
    voice: str | None = None
    rate_wpm: int | None = None


_lock = threading.Lock()
_engine: _Engine | None = None
# The sink of the synthesis in progress. Only touched while _lock is held.
_sink: ChunkSink | None = None


def _on_audio(wav: ctypes.POINTER(ctypes.c_short), numsamples: int, _events: int) -> int:
    """espeak's synth callback: forward samples to the current sink; 1 aborts synthesis."""
    if not wav or numsamples <= 0 or _sink is None:
        return 0
    chunk = ctypes.string_at(wav, numsamples * 2)
    try:
        keep_going = _sink(chunk)
    except BaseException:  # an exception must never unwind through C frames
        return 1
    return 1 if keep_going is False else 0


def _load() -> _Engine:
    """Load and initialise the library (caller holds _lock)."""
    global _engine
    if _engine is not None:
        return _engine
    lib = ctypes.CDLL(espeakng_loader.get_library_path())
    lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
    lib.espeak_Initialize.restype = ctypes.c_int
    lib.espeak_SetSynthCallback.argtypes = [_SYNTH_CALLBACK]
    lib.espeak_SetSynthCallback.restype = None
    lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
    lib.espeak_SetVoiceByName.restype = ctypes.c_int
    lib.espeak_SetVoiceByProperties.argtypes = [ctypes.POINTER(_Voice)]
    lib.espeak_SetVoiceByProperties.restype = ctypes.c_int
    lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
    lib.espeak_SetParameter.restype = ctypes.c_int
    lib.espeak_Synth.argtypes = [
        ctypes.c_void_p,  # text
        ctypes.c_size_t,  # size
        ctypes.c_uint,  # position
        ctypes.c_int,  # position_type
        ctypes.c_uint,  # end_position
        ctypes.c_uint,  # flags
        ctypes.POINTER(ctypes.c_uint),  # unique_identifier
        ctypes.c_void_p,  # user_data
    ]
    lib.espeak_Synth.restype = ctypes.c_int

    data_path = espeakng_loader.get_data_path().encode()
    sample_rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, CHUNK_MS, data_path, _INITIALIZE_DONT_EXIT)
    if sample_rate <= 0:
        raise EspeakError(f"espeak_Initialize failed ({sample_rate}) with data at {data_path!r}")
    callback = _SYNTH_CALLBACK(_on_audio)
    lib.espeak_SetSynthCallback(callback)
    _engine = _Engine(lib=lib, sample_rate=sample_rate, callback=callback)
    return _engine


def sample_rate() -> int:
    """The native output rate of espeak-ng (initialises the library if needed)."""
    with _lock:
        return _load().sample_rate


def _configure(engine: _Engine, voice: str, rate_wpm: int) -> None:
    if engine.voice != voice:
        # A voice name ("en-us", "en-us+f3") or, failing that, a language ("en-gb").
        if engine.lib.espeak_SetVoiceByName(voice.encode()) != _EE_OK:
            spec = _Voice(languages=voice.lower().encode())
            if engine.lib.espeak_SetVoiceByProperties(ctypes.byref(spec)) != _EE_OK:
                engine.voice = None
                raise EspeakError(f"unknown espeak-ng voice {voice!r}")
        engine.voice = voice
        engine.rate_wpm = None  # selecting a voice resets the rate
    rate = max(MIN_RATE_WPM, min(MAX_RATE_WPM, int(rate_wpm)))
    if engine.rate_wpm != rate:
        engine.lib.espeak_SetParameter(_PARAM_RATE, rate, 0)
        engine.rate_wpm = rate


def languages() -> frozenset[str]:
    """Every language espeak-ng has a voice for, lower case (``en-us``, ``fr``, ``pt-br``,
    ``zh``, ...): what the offline voice can speak (``runtime.languages.ESPEAK_LANGUAGES``
    names the ones a workflow may choose)."""
    with _lock:
        engine = _load()
        engine.lib.espeak_ListVoices.argtypes = [ctypes.c_void_p]
        engine.lib.espeak_ListVoices.restype = ctypes.POINTER(ctypes.POINTER(_Voice))
        voices = engine.lib.espeak_ListVoices(None)
        found: set[str] = set()
        for i in itertools.count():
            if not voices[i]:
                break
            # ``languages`` is a list of (priority byte, NUL-terminated name), ending in 0
            at = ctypes.cast(voices[i], ctypes.POINTER(ctypes.c_void_p))[1]
            while at and ctypes.c_ubyte.from_address(at).value:  # the priority byte
                name = ctypes.string_at(at + 1)
                found.add(name.decode("ascii", "replace").lower())
                at += len(name) + 2
        return frozenset(found)


def has_voice(voice: str) -> bool:
    """Whether espeak-ng can speak with ``voice`` (a voice name or a language code)."""
    with _lock:
        engine = _load()
        try:
            _configure(engine, voice, engine.rate_wpm or 175)
        except EspeakError:
            return False
        return True


def synthesize_stream(text: str, on_chunk: ChunkSink, *, voice: str = "en-us", rate_wpm: int = 175) -> int:
    """Synthesise ``text``, calling ``on_chunk`` with int16 mono PCM chunks as espeak makes them.

    Blocks the calling thread until synthesis ends (run it in a worker thread from async
    code). ``on_chunk`` runs on this thread; returning ``False`` from it stops synthesis at
    once and no further chunks are delivered. Returns the sample rate of the chunks.
    """
    global _sink
    data = text.encode("utf-8") + b"\x00"
    with _lock:
        engine = _load()
        _configure(engine, voice, rate_wpm)
        _sink = on_chunk
        try:
            buf = ctypes.create_string_buffer(data, len(data))
            status = engine.lib.espeak_Synth(buf, len(data), 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
        finally:
            _sink = None
        if status != _EE_OK:
            raise EspeakError(f"espeak_Synth failed with status {status}")
        return engine.sample_rate


def synthesize(text: str, *, voice: str = "en-us", rate_wpm: int = 175) -> tuple[bytes, int]:
    """Synthesise ``text`` to int16 mono PCM; returns ``(pcm, sample_rate)``. Thread-safe."""
    chunks: list[bytes] = []
    rate = synthesize_stream(text, chunks.append, voice=voice, rate_wpm=rate_wpm)
    return b"".join(chunks), rate
