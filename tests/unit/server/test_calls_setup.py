"""A workflow's own STT/TTS choice is laid over the organization's provider settings."""

from __future__ import annotations

from pipeline.providers import ProviderSettings
from pipeline.providers.config import STTChoice, TTSChoice
from runtime.workflow import CallSettings
from server.calls.setup import workflow_providers

ORG = ProviderSettings(
    stt=STTChoice(provider="deepgram"),
    tts=TTSChoice(provider="openai", voice="alloy"),
    fallback_tts=TTSChoice(provider="offline"),
)


def test_workflow_choice_overrides_the_organization_and_keeps_its_fallbacks():
    call = CallSettings.model_validate({
        "language": "en-GB", "voice": "sonic-en",
        "stt": {"provider": "deepgram-flux", "model": "flux-general-en"},
        "tts": {"provider": "cartesia"},
    })
    merged = workflow_providers(ORG, call)
    assert merged.stt == STTChoice(provider="deepgram-flux", model="flux-general-en",
                                   language="en-GB")
    assert merged.tts == TTSChoice(provider="cartesia", voice="sonic-en")
    assert merged.fallback_tts == ORG.fallback_tts


def test_no_choice_or_unknown_names_leave_the_organization_settings():
    assert workflow_providers(ORG, None) is ORG
    assert workflow_providers(ORG, CallSettings()) == ORG
    unknown = CallSettings.model_validate({"tts": {"provider": "speakomatic"}})
    assert workflow_providers(ORG, unknown).tts == ORG.tts
