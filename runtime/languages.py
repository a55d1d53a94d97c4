"""Which languages each speech provider speaks, and with which model and voice.

One table per provider (data, read by one generic resolver): the language codes a model
takes, as the provider writes them, in the order a default model is chosen; the default
voice per language where voices are per language (Deepgram Aura); the espeak-ng languages
of the offline voice; the language names the LLM and OpenAI's speech ``instructions`` use;
the default idle prompt per language.

``stt_setup`` / ``tts_setup`` turn a workflow's language and a provider choice into what
goes on the wire (model, voice, language code) or a ``LanguageProblem`` naming the provider
and the field at fault. Validation (``runtime.validation``) reports those problems; the
pipeline's factory (``pipeline/providers/factory.py``) builds services from the setups.
A tag is matched case-insensitively, first whole (``pt-BR``), then by its primary language
(``fr-FR`` -> ``fr``).

Sources: Deepgram's models-and-languages pages (Nova-3 monolingual, Nova-2, Flux
``flux-general-multi`` and Aura-2 voices), pipecat's ElevenLabs ``ELEVENLABS_MODEL_LANGUAGES``
and Cartesia language map (a unit test keeps ours within them), OpenAI's speech guide (the
Whisper languages), espeak-ng's voice list (a unit test keeps ``ESPEAK_LANGUAGES`` equal to
the installed engine's).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

EN = ("en", "en-US", "en-GB", "en-AU", "en-NZ", "en-IN", "en-CA", "en-IE", "en-ZA")
DEEPGRAM_NOVA3 = (*EN, "es", "es-419", "fr", "fr-CA", "de", "de-CH", "it", "pt", "pt-BR",
                  "pt-PT", "nl", "nl-BE", "sv", "sv-SE", "da", "da-DK", "no", "fi", "pl", "cs",
                  "sk", "hu", "ro", "bg", "el", "tr", "ru", "uk", "hi", "ta", "te", "mr", "bn",
                  "ja", "ko", "ko-KR", "zh", "zh-CN", "zh-TW", "id", "ms", "vi", "lt", "lv",
                  "et", "ca", "multi")
DEEPGRAM_NOVA2 = (*EN, "es", "es-419", "fr", "fr-CA", "de", "de-CH", "it", "pt", "pt-BR",
                  "pt-PT", "nl", "nl-BE", "sv", "sv-SE", "da", "da-DK", "no", "fi", "pl", "cs",
                  "sk", "hu", "ro", "bg", "el", "tr", "ru", "uk", "hi", "ja", "ko", "ko-KR",
                  "zh", "zh-CN", "zh-TW", "zh-HK", "id", "ms", "th", "vi", "lt", "lv", "et",
                  "ca", "multi")
FLUX_MULTI = ("en", "de", "es", "fr", "hi", "it", "ja", "nl", "pt", "ru")
ELEVENLABS_V2_5 = ("ar", "bg", "cs", "da", "de", "el", "en", "es", "fi", "fil", "fr", "hi", "hr",
                   "hu", "id", "it", "ja", "ko", "ms", "nl", "no", "pl", "pt", "ro", "ru", "sk",
                   "sv", "ta", "tr", "uk", "vi", "zh")
ELEVENLABS_MULTILINGUAL_V2 = tuple(c for c in ELEVENLABS_V2_5 if c not in ("hu", "no", "vi"))
CARTESIA_SONIC3 = ("en", "fr", "de", "es", "pt", "zh", "ja", "hi", "it", "ko", "nl", "pl", "ru",
                   "sv", "tr", "tl", "bg", "ro", "ar", "cs", "el", "fi", "hr", "ms", "sk", "da",
                   "ta", "uk", "hu", "no", "vi", "bn", "th", "he", "ka", "id", "te", "gu", "kn",
                   "ml", "mr", "pa")
CARTESIA_SONIC2 = ("en", "fr", "de", "es", "pt", "zh", "ja", "hi", "it", "ko", "nl", "pl", "ru",
                   "sv", "tr")
OPENAI_SPEECH = ("af", "ar", "hy", "az", "be", "bs", "bg", "ca", "zh", "hr", "cs", "da", "nl",
                 "en", "et", "fi", "fr", "gl", "de", "el", "he", "hi", "hu", "is", "id", "it",
                 "ja", "kn", "kk", "ko", "lv", "lt", "mk", "ms", "mr", "mi", "ne", "no", "fa",
                 "pl", "pt", "ro", "ru", "sr", "sk", "sl", "es", "sw", "sv", "tl", "ta", "th",
                 "tr", "uk", "ur", "vi", "cy")
# espeak-ng's languages (its voice list: ``pipeline.engines.espeak.languages()``), limited to
# those a workflow may name (``runtime.supported.LANGUAGES``).
ESPEAK_LANGUAGES = ("en", "en-us", "en-gb", "es", "es-419", "es-mx", "fr", "fr-fr",
                    "de", "it", "pt", "pt-pt", "pt-br", "nl", "sv", "da", "nb", "no", "fi", "pl",
                    "cs", "sk", "hu", "ro", "bg", "el", "tr", "ru", "uk", "hi", "ta", "te", "mr",
                    "bn", "ja", "ko", "zh", "id", "ms", "th", "vi", "ar", "he", "lt", "lv", "et",
                    "ca")

# Deepgram Aura-2: a voice speaks one language, named by its suffix (aura-2-celeste-es).
AURA_VOICES = {"en": "aura-2-helena-en", "es": "aura-2-celeste-es", "de": "aura-2-viktoria-de",
               "fr": "aura-2-agathe-fr", "it": "aura-2-livia-it", "nl": "aura-2-rhea-nl",
               "ja": "aura-2-ama-ja"}

# Other names of a primary language subtag (Norwegian Bokmål is written "no" by providers).
ALIASES = {"nb": "no"}

Stage = Literal["stt", "tts"]
# How problems name a provider (the offline engines by what they are).
ENGINE_NAMES = {("stt", "offline"): "offline speech recognition (PocketSphinx)",
                ("tts", "offline"): "offline voice (espeak-ng)"}


@dataclass(frozen=True, slots=True)
class Models:
    """A provider's models, each with the languages it takes.

    ``defaults``: (model, codes) in the order a model is chosen for a language; ``families``:
    (model name prefix, codes) for a model the workflow names, longest prefix first (a
    model matching none is not checked: providers add models).
    """

    defaults: tuple[tuple[str | None, tuple[str, ...]], ...]
    families: tuple[tuple[str, tuple[str, ...]], ...] = ()


STT_MODELS: dict[str, Models] = {
    "deepgram": Models(
        defaults=(("nova-3-general", EN), ("nova-3", DEEPGRAM_NOVA3), ("nova-2", DEEPGRAM_NOVA2)),
        families=(("nova-3-medical", EN), ("nova-3", DEEPGRAM_NOVA3), ("nova-2-general", DEEPGRAM_NOVA2),
                  ("nova-2-", EN), ("nova-2", DEEPGRAM_NOVA2), ("nova", EN)),
    ),
    "deepgram-flux": Models(
        defaults=(("flux-general-en", EN), ("flux-general-multi", FLUX_MULTI)),
        families=(("flux-general-en", EN), ("flux-general-multi", FLUX_MULTI)),
    ),
    "offline": Models(defaults=((None, EN),)),  # PocketSphinx: its en-US model only
}
TTS_MODELS: dict[str, Models] = {
    "deepgram": Models(defaults=((None, tuple(AURA_VOICES)),)),  # the voice names the model
    "openai": Models(defaults=(("gpt-4o-mini-tts", OPENAI_SPEECH),),
                     families=(("gpt-4o", OPENAI_SPEECH), ("tts-1", OPENAI_SPEECH))),
    "elevenlabs": Models(
        defaults=(("eleven_flash_v2_5", ELEVENLABS_V2_5),),
        families=(("eleven_flash_v2_5", ELEVENLABS_V2_5), ("eleven_turbo_v2_5", ELEVENLABS_V2_5),
                  ("eleven_multilingual_v2", ELEVENLABS_MULTILINGUAL_V2),
                  ("eleven_flash_v2", ("en",)), ("eleven_turbo_v2", ("en",)),
                  ("eleven_monolingual", ("en",))),
    ),
    "cartesia": Models(defaults=(("sonic-3.6", CARTESIA_SONIC3),),
                       families=(("sonic-3", CARTESIA_SONIC3), ("sonic", CARTESIA_SONIC2))),
    "offline": Models(defaults=((None, ESPEAK_LANGUAGES),)),
}
# Models whose language goes on the wire as a hint / instructions rather than a code.
FLUX_HINT_MODELS = ("flux-general-multi",)
OPENAI_INSTRUCTION_MODELS = ("gpt-4o",)

LANGUAGE_NAMES = {
    "en": "English", "es": "Spanish", "fr": "French", "de": "German", "it": "Italian",
    "pt": "Portuguese", "nl": "Dutch", "sv": "Swedish", "da": "Danish", "no": "Norwegian",
    "nb": "Norwegian", "fi": "Finnish", "pl": "Polish", "cs": "Czech", "sk": "Slovak",
    "hu": "Hungarian", "ro": "Romanian", "bg": "Bulgarian", "el": "Greek", "tr": "Turkish",
    "ru": "Russian", "uk": "Ukrainian", "hi": "Hindi", "ta": "Tamil", "te": "Telugu",
    "mr": "Marathi", "bn": "Bengali", "ja": "Japanese", "ko": "Korean", "zh": "Chinese",
    "id": "Indonesian", "ms": "Malay", "th": "Thai", "vi": "Vietnamese", "ar": "Arabic",
    "he": "Hebrew", "lt": "Lithuanian", "lv": "Latvian", "et": "Estonian", "ca": "Catalan",
}
# "Are you still there?", said on silence when a workflow has no idle_prompts of its own.
IDLE_PROMPTS = {
    "en": "Are you still there?", "es": "¿Sigue ahí?", "fr": "Vous êtes toujours là ?",
    "de": "Sind Sie noch da?", "it": "È ancora lì?", "pt": "Ainda está aí?",
    "nl": "Bent u er nog?", "sv": "Är du kvar?", "da": "Er du der stadig?",
    "no": "Er du der fortsatt?", "nb": "Er du der fortsatt?", "fi": "Oletko vielä siellä?",
    "pl": "Czy nadal tam jesteś?", "cs": "Jste tam ještě?", "ro": "Mai sunteți acolo?",
    "el": "Είστε ακόμα εκεί;", "tr": "Hâlâ orada mısınız?", "ru": "Вы ещё здесь?",
    "uk": "Ви ще тут?", "hi": "क्या आप अभी भी वहाँ हैं?", "ja": "まだいらっしゃいますか？",
    "ko": "아직 계신가요?", "zh": "您还在吗？", "id": "Apakah Anda masih di sana?",
    "vi": "Bạn vẫn còn đó chứ?", "ar": "هل ما زلت هناك؟", "ca": "Encara hi és?",
}


@dataclass(frozen=True, slots=True)
class SpeechSetup:
    """What a provider is asked for: model, voice and the language as it writes it."""

    model: str | None
    voice: str | None
    language: str | None  # the provider's code (``fr``, ``pt-BR``, an espeak language)


@dataclass(frozen=True, slots=True)
class LanguageProblem:
    """A provider cannot speak or hear the language: ``field`` is what to change."""

    field: Literal["language", "model", "voice"]
    message: str


def primary(tag: str) -> str:
    """The primary language subtag, lower case (``pt-BR`` -> ``pt``)."""
    return tag.split("-", 1)[0].lower()


def match(tag: str, codes: Iterable[str]) -> str | None:
    """The code among ``codes`` for ``tag``: the whole tag, else its primary language (or
    that language's other name: ``nb`` is ``no``)."""
    by_lower = {c.lower(): c for c in codes}
    base = primary(tag)
    return (by_lower.get(tag.lower()) or by_lower.get(base)
            or by_lower.get(ALIASES.get(base, base)))


def _family(models: Models, model: str) -> tuple[str, ...] | None:
    for prefix, codes in models.families:
        if model == prefix or model.startswith(prefix):
            return codes
    return None


def _choose(provider: str, table: Models, model: str | None, language: str,
            stage: Stage) -> tuple[str | None, str] | LanguageProblem:
    """The model (the named one, else the first default that takes ``language``) and the
    language code for it."""
    if model is not None:
        codes = _family(table, model)
        if codes is None:  # a model we have no table for: the provider decides
            return model, language
        code = match(language, codes)
        if code is None:
            return LanguageProblem("model", f"{_name(stage, provider)} model '{model}' does "
                                            f"not support language '{language}'")
        return model, code
    for default, codes in table.defaults:
        code = match(language, codes)
        if code is not None:
            return default, code
    return LanguageProblem("language", f"{_name(stage, provider)} does not support language "
                                       f"'{language}'{_offering(table)}")


def _name(stage: Stage, provider: str) -> str:
    return ENGINE_NAMES.get((stage, provider), f"{provider} {stage}")


def _offering(table: Models) -> str:
    codes = sorted({primary(c) for _, codes in table.defaults for c in codes})
    return f" (it has: {', '.join(codes)})" if len(codes) <= 12 else ""


def stt_setup(provider: str, model: str | None, language: str) -> SpeechSetup | LanguageProblem:
    """Model and language code for speech-to-text ``provider`` in ``language``."""
    table = STT_MODELS.get(provider)
    if table is None:
        return SpeechSetup(model, None, language)
    chosen = _choose(provider, table, model, language, "stt")
    if isinstance(chosen, LanguageProblem):
        return chosen
    return SpeechSetup(chosen[0], None, chosen[1])


def tts_setup(provider: str, model: str | None, voice: str | None,
              language: str) -> SpeechSetup | LanguageProblem:
    """Model, voice and language code for text-to-speech ``provider`` in ``language``;
    an explicit ``voice`` wins (an Aura voice must still speak the language)."""
    table = TTS_MODELS.get(provider)
    if table is None:
        return SpeechSetup(model, voice, language)
    chosen = _choose(provider, table, model, language, "tts")
    if isinstance(chosen, LanguageProblem):
        return chosen
    chosen_model, code = chosen
    spoken = voice_language(provider, voice) if voice else None
    if spoken is not None and spoken != primary(code):
        instead = f" (e.g. {AURA_VOICES[code]})" if provider == "deepgram" else ""
        return LanguageProblem("voice", f"{_name('tts', provider)}: voice '{voice}' speaks "
                                        f"'{spoken}', not '{language}'{instead}")
    if voice is None and provider == "deepgram":
        voice = AURA_VOICES[code]  # Aura: each voice speaks one language
    elif voice is None and provider == "offline":
        voice = code  # espeak-ng picks its voice for the language
    return SpeechSetup(chosen_model, voice, code)


def voice_language(provider: str, voice: str) -> str | None:
    """The language a voice speaks when its name says it: Deepgram Aura's suffix
    (``aura-2-celeste-es``), an espeak-ng language voice (``fr-fr``, ``en-us+f3``)."""
    if provider == "deepgram" and voice.startswith("aura"):
        return voice.rsplit("-", 1)[-1].lower()
    if provider == "offline" and voice.split("+", 1)[0].lower() in ESPEAK_LANGUAGES:
        return primary(voice.split("+", 1)[0])
    return None


def language_name(tag: str) -> str | None:
    """The English name of ``tag``'s language (``fr-CA`` -> French), if known."""
    return LANGUAGE_NAMES.get(primary(tag))


def answer_in(tag: str) -> str | None:
    """The instruction that keeps a model in the call's language (None for English)."""
    name = language_name(tag)
    if name is None or primary(tag) == "en":
        return None
    return f"The caller speaks {name}: always answer in {name}."


def idle_prompt(tag: str) -> str:
    """"Are you still there?" in ``tag``'s language (English when we have none)."""
    return IDLE_PROMPTS.get(primary(tag), IDLE_PROMPTS["en"])
