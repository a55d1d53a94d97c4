"""Offline speech engines: espeak-ng TTS and PocketSphinx STT, no keys and no network.

``EspeakTTSService`` and ``PocketSphinxSTTService`` are imported lazily, so code that only
needs :mod:`pipeline.engines.espeak` does not load pipecat's service stack.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pipeline.engines.espeak_tts import EspeakTTSService
    from pipeline.engines.pocketsphinx_stt import PocketSphinxSTTService

__all__ = ["EspeakTTSService", "PocketSphinxSTTService", "warm_up"]


def warm_up() -> None:
    """Load espeak-ng and start the PocketSphinx decoder processes ahead of the first call.

    Blocking (run it with ``asyncio.to_thread`` from a server's startup); without it the
    first offline call pays for this (~1 s before its first transcript).
    """
    from pipeline.engines import espeak
    from pipeline.engines.sphinx_workers import shared_workers

    espeak.sample_rate()
    shared_workers.start()


def __getattr__(name: str) -> Any:
    if name == "EspeakTTSService":
        from pipeline.engines.espeak_tts import EspeakTTSService

        return EspeakTTSService
    if name == "PocketSphinxSTTService":
        from pipeline.engines.pocketsphinx_stt import PocketSphinxSTTService

        return PocketSphinxSTTService
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
