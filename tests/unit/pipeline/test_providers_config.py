"""Provider choice and credential resolution: organization key > environment key > offline."""

from __future__ import annotations

import pytest
from pipecat.services.cartesia.tts import CartesiaTTSService
from pipecat.services.deepgram.stt import DeepgramSTTService
from pydantic import ValidationError

from pipeline.engines.espeak_tts import EspeakTTSService
from pipeline.engines.pocketsphinx_stt import PocketSphinxSTTService
from pipeline.providers import (
    CLOUD_PROVIDERS,
    FailoverSwitcher,
    ProviderSettings,
    StoredCredential,
    STTChoice,
    TTSChoice,
    build_stt,
    build_stt_stage,
    build_tts,
    build_tts_stage,
    effective_stt,
    resolve_credentials,
)
from pipeline.providers.config import STT_PROVIDERS, TTS_PROVIDERS
from runtime import languages
from runtime.egress import EgressPolicy, EgressRefused
from server.settings import load_settings


def env(**values: str) -> object:
    """Server settings with only the given provider values (the process env is ignored)."""
    blank = {f"{p}_{f}": "" for p in CLOUD_PROVIDERS for f in ("api_key", "base_url")}
    return load_settings(_env_file=None, **{**blank, **values})


def test_organization_key_beats_environment_key() -> None:
    creds = resolve_credentials(
        {"deepgram": StoredCredential(api_key="org-key")},
        env(deepgram_api_key="env-key", deepgram_base_url="wss://dg.internal"),
    )
    assert creds.deepgram is not None
    assert creds.deepgram.api_key == "org-key"
    assert creds.deepgram.source == "organization"
    # An organization key without its own base URL inherits the deployment's.
    assert creds.deepgram.base_url == "wss://dg.internal"
    # Flux runs on the same Deepgram account.
    assert creds.for_provider("deepgram-flux") == creds.deepgram


def test_organization_base_url_beats_environment_base_url() -> None:
    creds = resolve_credentials(
        {"openai": StoredCredential(api_key="org", base_url="http://llm.local/v1")},
        env(openai_api_key="env", openai_base_url="https://api.openai.com/v1"),
    )
    assert creds.openai is not None and creds.openai.base_url == "http://llm.local/v1"


def test_environment_key_used_when_the_organization_has_none() -> None:
    creds = resolve_credentials({}, env(cartesia_api_key="env-cartesia"))
    assert creds.cartesia is not None
    assert (creds.cartesia.api_key, creds.cartesia.source) == ("env-cartesia", "environment")
    assert creds.deepgram is None and creds.elevenlabs is None
    tts = build_tts(TTSChoice(provider="cartesia"), creds, sample_rate=8000)
    assert isinstance(tts, CartesiaTTSService)


def test_empty_environment_values_mean_unset() -> None:
    creds = resolve_credentials({}, env(deepgram_api_key=""))
    assert creds.deepgram is None


def test_no_key_anywhere_runs_the_offline_engines() -> None:
    creds = resolve_credentials({}, env())
    assert effective_stt(STTChoice(provider="deepgram-flux"), creds).provider == "offline"
    assert isinstance(
        build_stt(STTChoice(provider="deepgram"), creds, sample_rate=8000), PocketSphinxSTTService
    )
    assert isinstance(
        build_tts(TTSChoice(provider="elevenlabs"), creds, sample_rate=8000), EspeakTTSService
    )


def test_stored_key_builds_the_cloud_service() -> None:
    creds = resolve_credentials({"deepgram": StoredCredential("org-key", "http://127.0.0.1:9")})
    assert isinstance(
        build_stt(STTChoice(provider="deepgram"), creds, sample_rate=8000), DeepgramSTTService
    )


def test_fallback_wraps_in_a_switcher_only_when_it_differs() -> None:
    creds = resolve_credentials({"deepgram": StoredCredential("k", "ws://127.0.0.1:9")})
    settings = ProviderSettings(
        stt=STTChoice(provider="deepgram"),
        tts=TTSChoice(provider="deepgram"),
        fallback_stt=STTChoice(provider="offline"),
        fallback_tts=TTSChoice(provider="cartesia"),  # no Cartesia key: resolves to offline
    )
    stt = build_stt_stage(settings, creds, sample_rate=8000)
    assert isinstance(stt, FailoverSwitcher)
    assert stt.active_provider == "deepgram"
    tts = build_tts_stage(settings, creds, sample_rate=8000)
    assert isinstance(tts, FailoverSwitcher)
    assert [tts.strategy.label(s) for s in tts.services] == ["deepgram", "offline"]

    # Without any key, primary and fallback are both the offline engine: no switcher.
    offline = build_stt_stage(settings, resolve_credentials({}), sample_rate=8000)
    assert isinstance(offline, PocketSphinxSTTService)


def test_provider_settings_reject_unknown_providers_and_fields() -> None:
    with pytest.raises(ValidationError):
        ProviderSettings.model_validate({"stt": {"provider": "whisper"}})
    with pytest.raises(ValidationError):
        ProviderSettings.model_validate({"tts": {"provider": "openai", "colour": "blue"}})
    parsed = ProviderSettings.model_validate(
        {"stt": {"provider": "deepgram-flux"}, "fallback_tts": {"provider": "offline"}}
    )
    assert parsed.tts.provider == "offline" and parsed.fallback_stt is None


def test_api_key_is_not_in_repr() -> None:
    creds = resolve_credentials({"openai": StoredCredential("sk-secret-value")})
    assert "sk-secret-value" not in repr(creds)


def test_server_keys_stay_with_server_endpoints_and_only_when_shared() -> None:
    box = EgressPolicy()
    creds = resolve_credentials(
        {"openai": StoredCredential("org", "https://llm.tenant.example/v1")},
        env(openai_api_key="env", deepgram_api_key="env-dg", deepgram_base_url="wss://dg.op"),
        egress=box,
    )
    # The organization's own URL goes with its own key, through the egress policy.
    assert creds.openai is not None and creds.openai.egress is box
    # The server's key goes with the server's endpoint, which is the operator's: unguarded.
    assert creds.deepgram is not None and creds.deepgram.egress is None
    assert creds.deepgram.base_url == "wss://dg.op" and creds.egress is box
    unshared = resolve_credentials({}, env(openai_api_key="env", share_server_keys="false"))
    assert unshared.openai is None
    production = resolve_credentials({}, load_settings(_env_file=None, env="production",
                                                       public_url="https://sb.example.com",
                                                       openai_api_key="env"))
    assert production.openai is None


async def test_tenant_websocket_endpoints_are_checked_when_connecting() -> None:
    from pipeline.providers.guarded import EgressWebsocketMixin

    creds = resolve_credentials({"cartesia": StoredCredential("k", "ws://127.0.0.1:9")})
    tts = build_tts(TTSChoice(provider="cartesia"), creds, sample_rate=8000)
    assert isinstance(tts, CartesiaTTSService) and isinstance(tts, EgressWebsocketMixin)
    with pytest.raises(EgressRefused, match="loopback"):
        await tts._websocket_connect("ws://127.0.0.1:9/tts/websocket")
    # The operator's endpoint (environment) is not wrapped.
    operator = build_tts(TTSChoice(provider="cartesia"),
                         resolve_credentials({}, env(cartesia_api_key="k")), sample_rate=8000)
    assert not isinstance(operator, EgressWebsocketMixin)


def test_supported_names_are_exported_for_workflow_validation() -> None:
    assert {"deepgram", "deepgram-flux", "offline"} == STT_PROVIDERS
    assert {"deepgram", "openai", "elevenlabs", "cartesia", "offline"} == TTS_PROVIDERS
    # every provider has a language table (runtime/languages.py)
    assert set(languages.STT_MODELS) == STT_PROVIDERS
    assert set(languages.TTS_MODELS) == TTS_PROVIDERS


def test_guarded_services_keep_their_provider_name_for_usage() -> None:
    from pipeline.observers.usage import provider_from_processor

    creds = resolve_credentials({"cartesia": StoredCredential("k", "ws://127.0.0.1:9")})
    tts = build_tts(TTSChoice(provider="cartesia"), creds, sample_rate=8000)
    assert provider_from_processor(tts.name) == "cartesia"


def test_factory_defaults_are_among_the_known_models() -> None:
    from pipeline.providers import factory
    from pipeline.providers.config import STT_MODELS, TTS_MODELS

    assert factory.DEEPGRAM_STT_MODEL in STT_MODELS["deepgram"]
    assert factory.DEEPGRAM_FLUX_MODEL in STT_MODELS["deepgram-flux"]
    assert factory.OPENAI_TTS_MODEL in TTS_MODELS["openai"]
    assert factory.ELEVENLABS_MODEL in TTS_MODELS["elevenlabs"]
    assert factory.CARTESIA_MODEL in TTS_MODELS["cartesia"]
