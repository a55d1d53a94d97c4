"""Build pipecat speech services from a provider choice and its credentials.

Every cloud service is pointed at its credential's base URL when one is set (a private
deployment, a proxy, or the fake servers the tests run), else at the provider's public
endpoint. A base URL the organization chose connects through the egress policy
(``pipeline/providers/guarded.py``). A cloud choice without a key builds the offline
engine instead.
"""

from __future__ import annotations

from collections.abc import Sequence

from loguru import logger
from pipecat.services.stt_service import STTService
from pipecat.services.tts_service import TTSService
from pipecat.transcriptions.language import Language

from pipeline.providers.background_connect import background_connect
from pipeline.providers.config import (
    DEFAULT_BASE_URLS,
    ProviderCredentials,
    ProviderKey,
    STTChoice,
    TTSChoice,
    effective_stt,
    effective_tts,
    stt_setup,
    tts_setup,
)
from pipeline.providers.deepgram_client import install_sdk_client
from pipeline.providers.direct_audio import direct_caller_audio
from pipeline.providers.guarded import check_deepgram_sdk_connects, guarded_websocket_service
from pipeline.providers.openai_speech import OpenAISpeechService
from runtime import tracing
from runtime.egress_aiohttp import shared_aiohttp
from runtime.languages import (
    FLUX_HINT_MODELS,
    OPENAI_INSTRUCTION_MODELS,
    LanguageProblem,
    SpeechSetup,
    language_name,
    primary,
)

DEEPGRAM_STT_MODEL = "nova-3-general"
DEEPGRAM_FLUX_MODEL = "flux-general-en"
DEEPGRAM_TTS_VOICE = "aura-2-helena-en"
OPENAI_TTS_VOICE = "alloy"
OPENAI_TTS_MODEL = "gpt-4o-mini-tts"
ELEVENLABS_VOICE = "21m00Tcm4TlvDq8ikWAM"
ELEVENLABS_MODEL = "eleven_flash_v2_5"
CARTESIA_VOICE = "a0e99841-438c-4a64-b679-ae501e7d6091"
CARTESIA_MODEL = "sonic-3.6"


class ProviderUnavailable(RuntimeError):
    """The choice names a provider this build cannot construct."""


def _ws_base(url: str) -> str:
    """A websocket base URL (no trailing slash) from an http(s)/ws(s) one."""
    url = url.rstrip("/")
    if url.startswith("https://"):
        return "wss://" + url[len("https://") :]
    if url.startswith("http://"):
        return "ws://" + url[len("http://") :]
    return url


def _stt_setup(choice: STTChoice) -> SpeechSetup:
    """Model and language for ``choice``; a language the provider lacks (validation refuses
    it; a fallback provider may still meet one) runs on the provider's defaults, logged."""
    setup = stt_setup(choice)
    if isinstance(setup, LanguageProblem):
        logger.warning(f"speech language unsupported, using the provider's default: {setup.message}")
        return SpeechSetup(choice.model, None, None)
    return setup


def _tts_setup(choice: TTSChoice) -> SpeechSetup:
    """Model, voice and language for ``choice`` (see ``_stt_setup``)."""
    setup = tts_setup(choice)
    if isinstance(setup, LanguageProblem):
        logger.warning(f"speech language unsupported, using the provider's default: {setup.message}")
        return SpeechSetup(choice.model, choice.voice, None)
    return setup


def _key(credentials: ProviderCredentials, provider: str) -> ProviderKey:
    key = credentials.for_provider(provider)
    if key is None:  # effective_* turned key-less choices into "offline" already
        raise ProviderUnavailable(f"no credentials for {provider}")
    return key


def build_stt(
    choice: STTChoice,
    credentials: ProviderCredentials,
    *,
    sample_rate: int | None = None,
    vocabulary: Sequence[str] = (),
) -> STTService:
    """A speech-to-text service for ``choice`` (offline when no key exists for it).

    ``sample_rate`` is the rate of the audio the service will receive; ``None`` takes the
    pipeline's input rate at start. ``vocabulary``: phrases the workflow's callers are
    likely to say; the offline engine decodes against a language model of them.
    """
    choice = effective_stt(choice, credentials)
    setup = _stt_setup(choice)
    if choice.provider == "deepgram":
        from pipecat.services.deepgram.stt import DeepgramSTTService

        install_sdk_client()  # no HTTP client (and TLS context) of its own per call
        key = _key(credentials, "deepgram")
        settings = DeepgramSTTService.Settings(
            model=setup.model or DEEPGRAM_STT_MODEL,
            language=setup.language or "en",
            interim_results=True,
            smart_format=True,
        )
        base = _ws_base(key.base_url or DEFAULT_BASE_URLS["deepgram"])
        # the handshake runs behind the call's start (pipeline/providers/background_connect.py)
        service = direct_caller_audio(background_connect(DeepgramSTTService))(
            api_key=key.api_key, base_url=base, sample_rate=sample_rate, settings=settings
        )
        if key.egress is not None:
            check_deepgram_sdk_connects(service, key.egress, base)
        return service
    if choice.provider == "deepgram-flux":
        from pipecat.services.deepgram.flux.stt import DeepgramFluxSTTService

        key = _key(credentials, "deepgram")
        base = _ws_base(key.base_url or DEFAULT_BASE_URLS["deepgram"])
        model = setup.model or DEEPGRAM_FLUX_MODEL
        flux = DeepgramFluxSTTService.Settings(model=model)
        if setup.language and model in FLUX_HINT_MODELS:  # the multilingual model: a hint
            flux.language_hints = [Language(primary(setup.language))]
        return guarded_websocket_service(
            direct_caller_audio(background_connect(DeepgramFluxSTTService)),
            key.egress,
            api_key=key.api_key,
            url=f"{base}/v2/listen",
            sample_rate=sample_rate,
            settings=flux,
        )
    if choice.provider == "offline":
        # Lazy: the decoder model loads only for calls that use the offline engine.
        from pipeline.engines.pocketsphinx_stt import (
            PocketSphinxSTTService,
            TracedPocketSphinxSTTService,
        )

        stt_class = TracedPocketSphinxSTTService if tracing.enabled() else PocketSphinxSTTService
        return stt_class(sample_rate=sample_rate, vocabulary=vocabulary)
    raise ProviderUnavailable(f"unknown speech-to-text provider {choice.provider!r}")


#: Service modules the builders above import on first use (only calls that use them pay for
#: them in memory); ``preload_services`` imports them at start-up so the first call does not.
LAZY_SERVICE_MODULES = (
    "pipecat.services.deepgram.stt",
    "pipecat.services.deepgram.flux.stt",
    "pipecat.services.deepgram.tts",
    "pipecat.services.elevenlabs.tts",
    "pipecat.services.cartesia.tts",
    "pipeline.engines.pocketsphinx_stt",
    "pipeline.engines.espeak_tts",
    # the Deepgram SDK imports its listen client (websocket client, pydantic types) on the
    # first Nova connect: ~100 ms of the first Smart Turn call's set-up on a loaded core
    "deepgram.listen.v1.client",
)


def preload_services() -> None:
    """Import every lazily imported speech-service module (start-up warm-up)."""
    import importlib

    for name in LAZY_SERVICE_MODULES:
        importlib.import_module(name)


def build_tts(choice: TTSChoice, credentials: ProviderCredentials, sample_rate: int) -> TTSService:
    """A text-to-speech service for ``choice`` producing audio at ``sample_rate``.

    Falls back to the offline engine when no key exists for the chosen provider.
    """
    choice = effective_tts(choice, credentials)
    setup = _tts_setup(choice)
    if choice.provider == "deepgram":
        from pipecat.services.deepgram.tts import DeepgramTTSService

        key = _key(credentials, "deepgram")
        return guarded_websocket_service(
            DeepgramTTSService,
            key.egress,
            api_key=key.api_key,
            base_url=_ws_base(key.base_url or DEFAULT_BASE_URLS["deepgram"]),
            sample_rate=sample_rate,
            settings=DeepgramTTSService.Settings(voice=setup.voice or DEEPGRAM_TTS_VOICE),
        )
    if choice.provider == "openai":
        key = _key(credentials, "openai")
        model = setup.model or OPENAI_TTS_MODEL
        return OpenAISpeechService(
            api_key=key.api_key,
            base_url=key.base_url or DEFAULT_BASE_URLS["openai"],
            sample_rate=sample_rate,
            voice=setup.voice or OPENAI_TTS_VOICE,
            model=model,
            # OpenAI's voices speak the text's language; the models that take instructions
            # are also told which one (tts-1 takes none)
            instructions=_speak_in(setup.language) if model.startswith(OPENAI_INSTRUCTION_MODELS)
            else None,
            # a tenant's endpoint: the policy's client, every connection checked
            http=shared_aiohttp(key.egress),
        )
    if choice.provider == "elevenlabs":
        from pipecat.services.elevenlabs.tts import ElevenLabsTTSService

        key = _key(credentials, "elevenlabs")
        return guarded_websocket_service(
            ElevenLabsTTSService,
            key.egress,
            api_key=key.api_key,
            url=_ws_base(key.base_url or DEFAULT_BASE_URLS["elevenlabs"]),
            sample_rate=sample_rate,
            # the language goes on the URL as language_code (models that take one)
            settings=ElevenLabsTTSService.Settings(
                voice=setup.voice or ELEVENLABS_VOICE, model=setup.model or ELEVENLABS_MODEL,
                language=setup.language,
            ),
        )
    if choice.provider == "cartesia":
        from pipecat.services.cartesia.tts import CartesiaTTSService

        key = _key(credentials, "cartesia")
        base = _ws_base(key.base_url or DEFAULT_BASE_URLS["cartesia"])
        return guarded_websocket_service(
            CartesiaTTSService,
            key.egress,
            api_key=key.api_key,
            url=f"{base}/tts/websocket",
            sample_rate=sample_rate,
            settings=CartesiaTTSService.Settings(  # language: in every generation request
                voice=setup.voice or CARTESIA_VOICE, model=setup.model or CARTESIA_MODEL,
                language=setup.language or "en",
            ),
        )
    if choice.provider == "offline":
        from pipeline.engines.espeak_tts import (  # lazy, like the STT engine
            EspeakTTSService,
            TracedEspeakTTSService,
        )

        tts_class = TracedEspeakTTSService if tracing.enabled() else EspeakTTSService
        if setup.voice:  # the workflow's voice, else espeak-ng's voice for the language
            return tts_class(voice=setup.voice, sample_rate=sample_rate)
        return tts_class(sample_rate=sample_rate)
    raise ProviderUnavailable(f"unknown text-to-speech provider {choice.provider!r}")


def _speak_in(language: str | None) -> str | None:
    """OpenAI speech instructions naming the language (none for English or no language)."""
    name = language_name(language) if language else None
    if name is None or primary(language or "") == "en":
        return None
    return f"Speak in {name}."
