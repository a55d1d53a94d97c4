"""The speech stages of a call: each provider choice with its fallback, ready to pipe.

``build_stt_stage`` / ``build_tts_stage`` return the processor that goes into the pipeline:
the primary service alone, or a ``FailoverSwitcher`` over primary and fallback when the
organization configured a fallback that resolves to a different provider.
"""

from __future__ import annotations

from pipecat.processors.frame_processor import FrameProcessor

from pipeline.providers.config import (
    ProviderCredentials,
    ProviderSettings,
    effective_stt,
    effective_tts,
)
from pipeline.providers.factory import build_stt, build_tts
from pipeline.providers.failover import FailoverHandler, FailoverSwitcher


def build_stt_stage(
    settings: ProviderSettings,
    credentials: ProviderCredentials,
    *,
    sample_rate: int | None = None,
    on_failover: FailoverHandler | None = None,
) -> FrameProcessor:
    """Speech-to-text for a call: the primary, wrapped with its fallback when set."""
    primary = effective_stt(settings.stt, credentials)
    service = build_stt(primary, credentials, sample_rate=sample_rate)
    if settings.fallback_stt is None:
        return service
    fallback = effective_stt(settings.fallback_stt, credentials)
    if fallback == primary:
        return service
    backup = build_stt(fallback, credentials, sample_rate=sample_rate)
    return FailoverSwitcher(
        [service, backup],
        kind="stt",
        labels=[primary.provider, fallback.provider],
        on_failover=on_failover,
    )


def build_tts_stage(
    settings: ProviderSettings,
    credentials: ProviderCredentials,
    *,
    sample_rate: int,
    on_failover: FailoverHandler | None = None,
) -> FrameProcessor:
    """Text-to-speech for a call: the primary, wrapped with its fallback when set."""
    primary = effective_tts(settings.tts, credentials)
    service = build_tts(primary, credentials, sample_rate=sample_rate)
    if settings.fallback_tts is None:
        return service
    fallback = effective_tts(settings.fallback_tts, credentials)
    if fallback == primary:
        return service
    backup = build_tts(fallback, credentials, sample_rate=sample_rate)
    return FailoverSwitcher(
        [service, backup],
        kind="tts",
        labels=[primary.provider, fallback.provider],
        on_failover=on_failover,
    )
