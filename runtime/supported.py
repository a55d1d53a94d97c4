"""What a workflow's ``settings`` may name: the providers, models and languages this server
supports. ``runtime.validation`` reports anything else as a problem with a JSON pointer (a
typo such as ``"opanai"`` is never silently run on the offline engine).

The runtime may not import the pipeline, so the speech provider names are listed here and a
unit test (tests/unit/runtime/test_runtime_supported.py) keeps them equal to the pipeline's
``STTProvider``/``TTSProvider`` and the runtime's ``ModelConfig.provider``.

Models are matched by family prefix (providers add dated and sized variants all the time);
``None`` as the family list means any model name is accepted (``openai-compatible``: the
server behind ``base_url`` decides).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field

LLM_PROVIDERS = ("openai", "openai-compatible", "offline")
STT_PROVIDERS = ("deepgram", "deepgram-flux", "offline")
TTS_PROVIDERS = ("deepgram", "openai", "elevenlabs", "cartesia", "offline")

# The cloud account whose key a provider choice needs (None: runs without a key).
ACCOUNT_OF: dict[str, str | None] = {
    "openai": "openai",
    "openai-compatible": None,  # a local server may need no key (the tenant stores one if so)
    "deepgram": "deepgram",
    "deepgram-flux": "deepgram",
    "elevenlabs": "elevenlabs",
    "cartesia": "cartesia",
    "offline": None,
}

OFFLINE_MODELS = ("offline-scripted",)
LLM_MODELS: dict[str, tuple[str, ...] | None] = {
    "openai": ("gpt-", "chatgpt-", "o1", "o3", "o4"),
    "openai-compatible": None,
    "offline": OFFLINE_MODELS,
}
STT_MODELS: dict[str, tuple[str, ...] | None] = {
    "deepgram": ("nova-3", "nova-2", "nova", "enhanced", "base", "whisper"),
    "deepgram-flux": ("flux-",),
    "offline": (),
}
TTS_MODELS: dict[str, tuple[str, ...] | None] = {
    "deepgram": ("aura-",),
    "openai": ("gpt-4o-mini-tts", "gpt-4o-audio", "tts-1"),
    "elevenlabs": ("eleven_",),
    "cartesia": ("sonic",),
    "offline": (),
}

# BCP-47 tags (matched case-insensitively) that speech recognition and synthesis cover.
# Which provider hears and speaks which of them, with which model and voice:
# runtime/languages.py.
LANGUAGES = frozenset(tag.lower() for tag in (
    "en", "en-US", "en-GB", "en-AU", "en-CA", "en-IN", "en-IE", "en-NZ", "en-ZA",
    "es", "es-ES", "es-MX", "es-US", "es-419", "fr", "fr-FR", "fr-CA", "de", "de-DE", "de-CH",
    "it", "it-IT", "pt", "pt-BR", "pt-PT", "nl", "nl-NL", "nl-BE", "sv", "sv-SE", "da", "da-DK",
    "no", "nb", "fi", "pl", "cs", "sk", "hu", "ro", "bg", "el", "tr", "ru", "uk", "hi",
    "hi-Latn", "ta", "te", "mr", "bn", "ja", "ko", "ko-KR", "zh", "zh-CN", "zh-TW", "zh-HK",
    "id", "ms", "th", "vi", "ar", "he", "lt", "lv", "et", "ca", "multi",
))


def known_language(tag: str) -> str:
    """``tag`` when it is one of ``LANGUAGES`` (any case), else ``ValueError``."""
    if tag.lower() not in LANGUAGES:
        raise ValueError(f"unsupported language '{tag}' (a BCP-47 tag such as en-US, es or "
                         "fr-FR)")
    return tag


#: A request field naming a call's language (422 naming the field when it is unknown).
LanguageTag = Annotated[str, Field(min_length=2, max_length=20,
                                   description="BCP-47 language, e.g. en-US, es, fr-FR"),
                        AfterValidator(known_language)]


def model_known(families: tuple[str, ...] | None, model: str) -> bool:
    """Whether ``model`` belongs to one of ``families`` (``None``: any name)."""
    if families is None:
        return True
    return any(model == f or model.startswith(f) for f in families)
