"""Languages: an unsupported provider/language combination is a validation problem at the
field to change, naming the provider; the language tables agree with what the providers'
pipecat services and the installed espeak-ng accept; the model is told the call's language."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pipecat.services.cartesia.tts import language_to_cartesia_language
from pipecat.services.elevenlabs.tts_base import ELEVENLABS_MODEL_LANGUAGES
from pipecat.transcriptions.language import Language

from pipeline.engines import espeak
from runtime import languages, supported
from runtime.models import ModelConfig
from runtime.sessions import create_session
from runtime.templates import order_desk
from runtime.validation import validate_definition
from tests.fakes.openai_server import FakeOpenAI, say


def _problems(settings: dict[str, Any]) -> list[tuple[str, str, str]]:
    definition = order_desk()
    definition["settings"] = settings
    return [(p.pointer, p.code, p.message) for p in validate_definition(definition)]


def test_offline_recognition_is_english_only_and_says_so() -> None:
    [(pointer, code, message)] = _problems({"language": "fr-FR", "stt": {"provider": "offline"}})
    assert (pointer, code) == ("/settings/language", "unsupported_language")
    assert "PocketSphinx" in message and "fr-FR" in message and "it has: en" in message
    assert _problems({"language": "en-GB", "stt": {"provider": "offline"}}) == []
    # espeak-ng speaks French: the offline voice is fine
    assert _problems({"language": "fr-FR", "tts": {"provider": "offline"}}) == []


@pytest.mark.parametrize(("settings", "pointer", "named"), [
    ({"language": "zh", "stt": {"provider": "deepgram-flux"}}, "/settings/language",
     "deepgram-flux"),
    ({"language": "fr", "stt": {"provider": "deepgram-flux", "model": "flux-general-en"}},
     "/settings/stt/model", "flux-general-en"),
    ({"language": "es", "stt": {"provider": "deepgram", "model": "nova-3-medical"}},
     "/settings/stt/model", "nova-3-medical"),
    ({"language": "ar", "stt": {"provider": "deepgram"}}, "/settings/language", "deepgram"),
    ({"language": "es", "tts": {"provider": "deepgram", "voice": "aura-2-helena-en"}},
     "/settings/tts/voice", "aura-2-celeste-es"),
    ({"language": "es", "voice": "aura-2-helena-en", "tts": {"provider": "deepgram"}},
     "/settings/voice", "deepgram"),
    ({"language": "pt-BR", "tts": {"provider": "deepgram"}}, "/settings/language", "deepgram"),
    ({"language": "de", "tts": {"provider": "elevenlabs", "model": "eleven_turbo_v2"}},
     "/settings/tts/model", "elevenlabs"),
    ({"language": "ar", "tts": {"provider": "cartesia", "model": "sonic-2"}},
     "/settings/tts/model", "cartesia"),
    ({"language": "de", "tts": {"provider": "offline", "voice": "en-us+f3"}},
     "/settings/tts/voice", "espeak-ng"),
])  # fmt: skip
def test_unsupported_combinations_point_at_the_field_and_name_the_provider(
    settings: dict[str, Any], pointer: str, named: str
) -> None:
    [(where, code, message)] = _problems(settings)
    assert (where, code) == (pointer, "unsupported_language")
    assert named in message


def test_supported_combinations_are_not_problems() -> None:
    for settings in (
        {"language": "es-MX", "stt": {"provider": "deepgram-flux"},
         "tts": {"provider": "deepgram"}},
        {"language": "ja", "stt": {"provider": "deepgram", "model": "nova-3"},
         "tts": {"provider": "cartesia", "model": "sonic-3"}},
        {"language": "pt-BR", "tts": {"provider": "elevenlabs", "model": "eleven_multilingual_v2"}},
        {"language": "fr-CA", "tts": {"provider": "openai", "model": "tts-1", "voice": "nova"}},
        {"language": "fr", "tts": {"provider": "deepgram", "voice": "aura-2-hector-fr"}},
        {"language": "zh-TW", "stt": {"provider": "deepgram"}},
        {"language": "de"},  # no provider named: the organization's (checked per call)
    ):  # fmt: skip
        assert _problems(settings) == [], settings


def test_espeak_languages_are_the_installed_engines() -> None:
    assert set(languages.ESPEAK_LANGUAGES) == espeak.languages() & supported.LANGUAGES


def test_cloud_tables_stay_within_what_the_pipecat_services_send() -> None:
    assert set(languages.ELEVENLABS_V2_5) <= ELEVENLABS_MODEL_LANGUAGES["eleven_flash_v2_5"]
    assert set(languages.ELEVENLABS_V2_5) <= ELEVENLABS_MODEL_LANGUAGES["eleven_turbo_v2_5"]
    # Cartesia: each of our codes is sent as itself
    for code in languages.CARTESIA_SONIC3:
        assert language_to_cartesia_language(Language(code)) == code, code
    for code, voice in languages.AURA_VOICES.items():
        assert voice.startswith("aura-2-") and voice.endswith(f"-{code}")


def test_every_supported_language_has_a_voice_and_nearly_all_a_recogniser() -> None:
    unheard = set()
    for tag in supported.LANGUAGES - {"multi"}:  # multi: Deepgram's language detection
        heard = [p for p in languages.STT_MODELS if not isinstance(
            languages.stt_setup(p, None, tag), languages.LanguageProblem)]
        spoken = [p for p in languages.TTS_MODELS if not isinstance(
            languages.tts_setup(p, None, None, tag), languages.LanguageProblem)]
        assert spoken, tag
        if not heard:
            unheard.add(tag)
    # Arabic and Hebrew: only Deepgram's multilingual model (language=multi) hears them
    # (README, "Languages")
    assert unheard == {"ar", "he"}
    assert languages.stt_setup("deepgram", None, "nb") == languages.SpeechSetup(
        "nova-3", None, "no")


def test_idle_prompt_in_the_language() -> None:
    assert languages.idle_prompt("es-MX") == "¿Sigue ahí?"
    assert languages.idle_prompt("fr-CA") == "Vous êtes toujours là ?"
    assert languages.idle_prompt("en-GB") == "Are you still there?"
    assert languages.idle_prompt("ta") == "Are you still there?"  # none for Tamil: English
    assert set(languages.IDLE_PROMPTS) <= set(languages.LANGUAGE_NAMES)


async def test_the_model_is_told_to_answer_in_the_calls_language() -> None:
    async with FakeOpenAI(api_key="sk-test") as fake:
        config = ModelConfig(provider="openai-compatible", model="fake-model",  # type: ignore[arg-type]
                             api_key="sk-test", base_url=fake.base_url, api="chat_completions")
        spanish = order_desk()
        spanish["settings"] = {"language": "es-MX"}
        english = order_desk()
        for definition, override in ((spanish, None), (english, "fr-FR"), (english, None)):
            fake.script(say("ok"))
            session = create_session(definition, variables={}, model=config, language=override)
            [_ async for _ in session.respond("hola")]
    said = [json.dumps(r["messages"][0]) for r in fake.requests]
    assert "always answer in Spanish" in said[0]
    assert "always answer in French" in said[1]  # the call's own language wins
    assert "always answer in" not in said[2]  # English: the prompt is as it was
