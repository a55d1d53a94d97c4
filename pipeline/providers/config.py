"""Which speech providers a call uses, and the credentials it uses them with.

``ProviderSettings`` is an organization's choice of speech-to-text and text-to-speech
providers (with optional fallbacks). ``ProviderCredentials`` holds one API key and base URL
per cloud provider, resolved from the organization's stored credentials first, then the
process environment. A cloud choice with no key anywhere runs on the offline engine
instead (PocketSphinx / espeak-ng), so a server with no keys still answers calls.

Keys and endpoints: the server's environment keys are used only with the environment's
endpoints (the provider's own, or the operator's ``<PROVIDER>_BASE_URL``), and only when
the operator shares them (``SHARE_SERVER_KEYS``). A base URL the organization chose goes
with the organization's own stored key only, and every connection to it goes through the
egress policy (``ProviderKey.egress``).

Nothing here does I/O: the caller (server/calls) loads stored credentials from the
database and passes them in as plain data.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, Protocol, TypeVar, get_args

from pydantic import BaseModel, ConfigDict, Field

from runtime import languages
from runtime.egress import EgressPolicy
from runtime.languages import LanguageProblem, SpeechSetup

CloudProvider = Literal["deepgram", "openai", "elevenlabs", "cartesia"]
CLOUD_PROVIDERS: tuple[CloudProvider, ...] = ("deepgram", "openai", "elevenlabs", "cartesia")

STTProvider = Literal["deepgram", "deepgram-flux", "offline"]
TTSProvider = Literal["deepgram", "openai", "elevenlabs", "cartesia", "offline"]
# The same names as sets, for validating workflow settings (runtime/validation.py).
STT_PROVIDERS: frozenset[str] = frozenset(get_args(STTProvider))
TTS_PROVIDERS: frozenset[str] = frozenset(get_args(TTSProvider))
# Which languages each provider speaks, and the model and voice for each, are data in
# runtime/languages.py (shared with workflow validation); ``stt_setup``/``tts_setup`` apply them.
# Models known to work (advisory: providers add models; warn on others, do not refuse).
# The factory's defaults (pipeline/providers/factory.py) are in these sets.
STT_MODELS: dict[STTProvider, frozenset[str]] = {
    "deepgram": frozenset({"nova-3", "nova-3-general", "nova-3-medical", "nova-2",
                           "nova-2-general", "nova-2-phonecall"}),
    "deepgram-flux": frozenset({"flux-general-en", "flux-general-multi"}),
    "offline": frozenset(),
}
TTS_MODELS: dict[TTSProvider, frozenset[str]] = {
    "deepgram": frozenset(),  # Aura: the voice names the model (aura-2-helena-en)
    "openai": frozenset({"gpt-4o-mini-tts", "tts-1", "tts-1-hd"}),
    "elevenlabs": frozenset({"eleven_flash_v2_5", "eleven_turbo_v2_5",
                             "eleven_multilingual_v2"}),
    "cartesia": frozenset({"sonic-3.6", "sonic-3", "sonic-2", "sonic-turbo"}),
    "offline": frozenset(),
}

# The cloud account a provider choice needs a key for ("deepgram-flux" is a Deepgram model).
_ACCOUNT: dict[str, CloudProvider | None] = {
    "deepgram": "deepgram",
    "deepgram-flux": "deepgram",
    "openai": "openai",
    "elevenlabs": "elevenlabs",
    "cartesia": "cartesia",
    "offline": None,
}

DEFAULT_BASE_URLS: dict[CloudProvider, str] = {
    "deepgram": "wss://api.deepgram.com",
    "openai": "https://api.openai.com/v1",
    "elevenlabs": "wss://api.elevenlabs.io",
    "cartesia": "wss://api.cartesia.ai",
}


class STTChoice(BaseModel):
    """A speech-to-text provider, model and language (``None`` = the provider's default)."""

    model_config = ConfigDict(extra="forbid")

    provider: STTProvider = "offline"
    model: str | None = Field(default=None, max_length=100)
    language: str | None = Field(default=None, max_length=20)


class TTSChoice(BaseModel):
    """A text-to-speech provider, voice, model and language (``None`` = the provider's
    default; an explicit voice or model wins over the one chosen for the language)."""

    model_config = ConfigDict(extra="forbid")

    provider: TTSProvider = "offline"
    voice: str | None = Field(default=None, max_length=200)
    model: str | None = Field(default=None, max_length=100)
    language: str | None = Field(default=None, max_length=20)


_Choice = TypeVar("_Choice", STTChoice, TTSChoice)


class ProviderSettings(BaseModel):
    """An organization's speech providers; the fallbacks take over when a primary fails."""

    model_config = ConfigDict(extra="forbid")

    stt: STTChoice = Field(default_factory=STTChoice)
    tts: TTSChoice = Field(default_factory=TTSChoice)
    fallback_stt: STTChoice | None = None
    fallback_tts: TTSChoice | None = None

    def in_language(self, language: str) -> ProviderSettings:
        """The same providers for a call in ``language`` (fallbacks included)."""
        def put(choice: _Choice | None) -> _Choice | None:
            return choice.model_copy(update={"language": language}) if choice else None

        return self.model_copy(update={
            "stt": put(self.stt), "tts": put(self.tts),
            "fallback_stt": put(self.fallback_stt), "fallback_tts": put(self.fallback_tts),
        })


class ProviderKey(BaseModel):
    """One provider's API key and optional base URL, and where they came from.

    ``egress`` is set when the base URL is the organization's choice: every connection to
    it goes through that policy. None: an operator endpoint (environment or default).
    """

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    api_key: str = Field(repr=False)
    base_url: str | None = None
    source: Literal["organization", "environment"] = "environment"
    egress: EgressPolicy | None = Field(default=None, repr=False, exclude=True)


@dataclass(frozen=True, slots=True)
class StoredCredential:
    """A decrypted credential row as loaded for a call (see db/provider_credentials.py)."""

    api_key: str
    base_url: str | None = None


class CredentialLike(Protocol):
    """Anything with an ``api_key`` and ``base_url`` (e.g. db's ``DecryptedCredential``)."""

    @property
    def api_key(self) -> str: ...

    @property
    def base_url(self) -> str | None: ...


class ProviderCredentials(BaseModel):
    """Keys per cloud provider; a missing entry means the provider cannot be used."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    deepgram: ProviderKey | None = None
    openai: ProviderKey | None = None
    elevenlabs: ProviderKey | None = None
    cartesia: ProviderKey | None = None
    # the policy for URLs the organization chose (its stored base URLs, a workflow's LLM)
    egress: EgressPolicy = Field(default_factory=EgressPolicy, repr=False, exclude=True)

    def for_provider(self, provider: str) -> ProviderKey | None:
        """The key a provider choice (e.g. ``"deepgram-flux"``) runs with, if any."""
        account = _ACCOUNT.get(provider)
        return getattr(self, account) if account else None


def resolve_credentials(
    stored: Mapping[str, CredentialLike],
    environment: object | None = None,
    *,
    egress: EgressPolicy | None = None,
) -> ProviderCredentials:
    """Merge an organization's stored credentials over the environment's.

    ``stored`` maps provider name to its decrypted credential. ``environment`` is any
    object with ``<provider>_api_key`` / ``<provider>_base_url`` attributes and
    ``shares_server_keys`` (the server's ``Settings``). An organization's stored key always
    wins; a stored credential without a base URL inherits the environment's base URL. An
    environment key is used only when shared, and only with the environment's base URL.
    ``egress`` guards organization-chosen URLs (default: non-public addresses refused).
    """
    egress = egress or EgressPolicy()
    share = bool(getattr(environment, "shares_server_keys", True)) if environment else False
    keys: dict[str, ProviderKey] = {}
    for provider in CLOUD_PROVIDERS:
        env_key = getattr(environment, f"{provider}_api_key", None) if environment else None
        env_url = getattr(environment, f"{provider}_base_url", None) if environment else None
        env_url = str(env_url) if env_url else None
        row = stored.get(provider)
        if row is not None and row.api_key:
            keys[provider] = ProviderKey(
                api_key=row.api_key, base_url=row.base_url or env_url, source="organization",
                egress=egress if row.base_url else None,
            )
        elif env_key and share:
            keys[provider] = ProviderKey(api_key=env_key, base_url=env_url, source="environment")
    return ProviderCredentials(**keys, egress=egress)


def effective_stt(choice: STTChoice, credentials: ProviderCredentials) -> STTChoice:
    """The choice that will actually run: the offline engine when no key exists for it."""
    if choice.provider != "offline" and credentials.for_provider(choice.provider) is None:
        return STTChoice(provider="offline", language=choice.language)
    return choice


def effective_tts(choice: TTSChoice, credentials: ProviderCredentials) -> TTSChoice:
    """The choice that will actually run: the offline engine when no key exists for it."""
    if choice.provider != "offline" and credentials.for_provider(choice.provider) is None:
        return TTSChoice(provider="offline", language=choice.language)
    return choice


def stt_setup(choice: STTChoice) -> SpeechSetup | LanguageProblem:
    """The model and language code ``choice`` runs with (``runtime.languages``); without a
    language, the provider's defaults (English)."""
    if choice.language is None:
        return SpeechSetup(choice.model, None, None)
    return languages.stt_setup(choice.provider, choice.model, choice.language)


def tts_setup(choice: TTSChoice) -> SpeechSetup | LanguageProblem:
    """The model, voice and language code ``choice`` runs with (``runtime.languages``)."""
    if choice.language is None:
        return SpeechSetup(choice.model, choice.voice, None)
    return languages.tts_setup(choice.provider, choice.model, choice.voice, choice.language)


def language_problems(settings: ProviderSettings) -> list[tuple[str, LanguageProblem]]:
    """The primary providers of ``settings`` that cannot hear or speak its language, with
    their stage (``stt`` / ``tts``)."""
    found: list[tuple[str, LanguageProblem]] = []
    for stage, setup in (("stt", stt_setup(settings.stt)), ("tts", tts_setup(settings.tts))):
        if isinstance(setup, LanguageProblem):
            found.append((stage, setup))
    return found
