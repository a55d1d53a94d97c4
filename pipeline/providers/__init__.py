"""Speech providers for the per-call pipeline: choice, credentials, factory, failover.

Typical use (server/calls)::

    creds = resolve_credentials(stored_rows, settings)      # org keys > env keys
    stt = build_stt_stage(org_settings, creds, sample_rate=16000, on_failover=sink)
    tts = build_tts_stage(org_settings, creds, sample_rate=8000, on_failover=sink)
"""

from pipeline.providers.config import (
    CLOUD_PROVIDERS,
    STT_MODELS,
    STT_PROVIDERS,
    TTS_MODELS,
    TTS_PROVIDERS,
    ProviderCredentials,
    ProviderKey,
    ProviderSettings,
    StoredCredential,
    STTChoice,
    TTSChoice,
    effective_stt,
    effective_tts,
    resolve_credentials,
)
from pipeline.providers.factory import ProviderUnavailable, build_stt, build_tts
from pipeline.providers.failover import FailoverHandler, FailoverSwitcher, ProviderFailover
from pipeline.providers.stages import build_stt_stage, build_tts_stage

__all__ = [
    "CLOUD_PROVIDERS",
    "STT_MODELS",
    "STT_PROVIDERS",
    "TTS_MODELS",
    "TTS_PROVIDERS",
    "FailoverHandler",
    "FailoverSwitcher",
    "ProviderCredentials",
    "ProviderFailover",
    "ProviderKey",
    "ProviderSettings",
    "ProviderUnavailable",
    "STTChoice",
    "StoredCredential",
    "TTSChoice",
    "build_stt",
    "build_stt_stage",
    "build_tts",
    "build_tts_stage",
    "effective_stt",
    "effective_tts",
    "resolve_credentials",
]
