"""The speech stages of a call: each provider choice with its fallback, ready to pipe.

``build_stt_stage`` / ``build_tts_stage`` return the processor that goes into the pipeline:
the primary service alone, or a ``FailoverSwitcher`` over primary and fallback when the
organization configured a fallback that resolves to a different provider.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from pipecat.processors.frame_processor import FrameProcessor

from pipeline.providers.config import (
    ProviderCredentials,
    ProviderSettings,
    effective_stt,
    effective_tts,
)
from pipeline.providers.factory import build_stt, build_tts
from pipeline.providers.failover import FailoverHandler, FailoverSwitcher


def _stage(
    kind: str,
    primary: Any,
    fallback: Any | None,
    build: Callable[[Any], FrameProcessor],
    on_failover: FailoverHandler | None,
) -> FrameProcessor:
    """The primary service, or a switcher over it and a fallback that differs from it."""
    service = build(primary)
    if fallback is None or fallback == primary:
        return service
    return FailoverSwitcher(
        [service, build(fallback)],
        kind=kind,
        labels=[primary.provider, fallback.provider],
        on_failover=on_failover,
    )


def build_stt_stage(
    settings: ProviderSettings,
    credentials: ProviderCredentials,
    *,
    sample_rate: int | None = None,
    on_failover: FailoverHandler | None = None,
    vocabulary: Sequence[str] = (),
) -> FrameProcessor:
    """Speech-to-text for a call: the primary, wrapped with its fallback when set."""
    fallback = settings.fallback_stt
    return _stage(
        "stt",
        effective_stt(settings.stt, credentials),
        effective_stt(fallback, credentials) if fallback is not None else None,
        lambda choice: build_stt(choice, credentials, sample_rate=sample_rate,
                                 vocabulary=vocabulary),
        on_failover,
    )


def build_tts_stage(
    settings: ProviderSettings,
    credentials: ProviderCredentials,
    *,
    sample_rate: int,
    on_failover: FailoverHandler | None = None,
) -> FrameProcessor:
    """Text-to-speech for a call: the primary, wrapped with its fallback when set."""
    fallback = settings.fallback_tts
    return _stage(
        "tts",
        effective_tts(settings.tts, credentials),
        effective_tts(fallback, credentials) if fallback is not None else None,
        lambda choice: build_tts(choice, credentials, sample_rate=sample_rate),
        on_failover,
    )
