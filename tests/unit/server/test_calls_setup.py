"""A workflow's own STT/TTS choice is laid over the organization's provider settings; the
call's language (its own, else the workflow's) over every stage; idle prompts in it."""

from __future__ import annotations

from uuid import uuid4

from pipeline.providers import ProviderSettings
from pipeline.providers.config import STTChoice, TTSChoice
from runtime.workflow import CallSettings
from server.calls.admission import CallHandle
from server.calls.setup import call_language, idle_prompts, workflow_providers

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
    assert merged.stt == STTChoice(provider="deepgram-flux", model="flux-general-en")
    assert merged.tts == TTSChoice(provider="cartesia", voice="sonic-en")
    assert merged.fallback_tts == ORG.fallback_tts
    british = merged.in_language(call_language(_handle(None), call))
    assert british.stt.language == british.tts.language == "en-GB"
    assert british.fallback_tts == TTSChoice(provider="offline", language="en-GB")


def test_no_choice_or_unknown_names_leave_the_organization_settings():
    assert workflow_providers(ORG, None) is ORG
    assert workflow_providers(ORG, CallSettings()) == ORG
    unknown = CallSettings.model_validate({"tts": {"provider": "speakomatic"}})
    assert workflow_providers(ORG, unknown).tts == ORG.tts


def _handle(language: str | None) -> CallHandle:
    return CallHandle(call_id=uuid4(), organization_id=uuid4(), workflow_id=uuid4(),
                      workflow_version=1, channel="webrtc", direction="browser", test=False,
                      variables={}, language=language)


def test_the_calls_own_language_wins_over_the_workflows():
    spanish = CallSettings.model_validate({"language": "es-MX"})
    assert call_language(_handle(None), spanish) == "es-MX"
    assert call_language(_handle("fr-FR"), spanish) == "fr-FR"
    assert call_language(_handle(None), None) == "en-US"


def test_idle_prompts_default_to_the_calls_language_and_the_workflows_own_win():
    assert idle_prompts(CallSettings(), "de-DE") == ["Sind Sie noch da?"]
    assert idle_prompts(CallSettings(), "en-US") == ["Are you still there?"]
    own = CallSettings.model_validate({"idle_prompts": ["Hallo?", "Noch da?"]})
    assert idle_prompts(own, "de-DE") == ["Hallo?", "Noch da?"]
    assert idle_prompts(CallSettings.model_validate({"idle_prompts": []}), "de") == []
    assert idle_prompts(None, "de") == []  # no workflow: no prompts, as before
