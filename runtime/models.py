"""Model providers for the agent runtime, all behind the openai-agents ``Model`` interface.

* ``openai`` — OpenAI's API (Responses API by default).
* ``openai-compatible`` — any OpenAI-compatible ``base_url`` (Ollama, vLLM, Groq, ...) over
  Chat Completions by default.
* ``offline`` — the offline scripted engine (``runtime.offline_model``): not an LLM; it speaks
  node text and follows edges whose condition words match the caller.

Keys and endpoints (``model_config_for``): a base URL the tenant chose (a workflow's
``settings.llm.base_url``, or the organization's stored OpenAI base URL) only ever gets the
organization's own stored key, never the server's, and its connections go through the
egress policy. The server's key is used only with the server's endpoint.
"""

from __future__ import annotations

from typing import Literal, Protocol, get_args

import agents
from agents import Model, ModelSettings, OpenAIChatCompletionsModel, OpenAIResponsesModel
from pydantic import BaseModel, ConfigDict, Field

from runtime import tracing
from runtime.egress import EgressPolicy
from runtime.offline_model import OFFLINE_ENGINE, OfflineScriptedModel
from runtime.openai_client import LeanOpenAI
from runtime.workflow import ServiceChoice

# The SDK's default exporter ships traces to OpenAI: never from a self-hosted voice server
# (with tracing on, runtime/tracing.py has replaced it with the OpenTelemetry bridge).
agents.set_tracing_disabled(not tracing.enabled())


LlmProvider = Literal["openai", "openai-compatible", "offline"]
LLM_PROVIDERS: frozenset[str] = frozenset(get_args(LlmProvider))
WireApi = Literal["chat_completions", "responses"]
WIRE_APIS: frozenset[str] = frozenset(get_args(WireApi))
# OpenAI models known to work with the agent runtime (``openai-compatible`` takes any name).
OPENAI_MODELS: frozenset[str] = frozenset({
    "gpt-4.1", "gpt-4.1-mini", "gpt-4.1-nano", "gpt-4o", "gpt-4o-mini", "gpt-5", "gpt-5-mini",
    "gpt-5-nano", "o4-mini",
})


class ModelConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    provider: LlmProvider = "offline"
    model: str = OFFLINE_ENGINE
    api_key: str | None = Field(default=None, repr=False)
    base_url: str | None = None
    api: WireApi | None = Field(
        default=None,
        description="Wire API; default responses for openai, chat_completions otherwise",
    )
    timeout_seconds: float = Field(default=30.0, gt=0)
    temperature: float | None = None
    # Set when base_url is the tenant's choice: the client connects through this policy.
    egress: EgressPolicy | None = Field(default=None, repr=False, exclude=True)

    @property
    def engine(self) -> str:
        return OFFLINE_ENGINE if self.provider == "offline" else self.provider

    @property
    def wire_api(self) -> str:
        if self.api:
            return self.api
        return "responses" if self.provider == "openai" else "chat_completions"


DEFAULT_OPENAI_MODEL = "gpt-4.1-mini"


class OpenAIKey(Protocol):
    """An OpenAI key as resolved for an organization (``pipeline.providers.ProviderKey``)."""

    @property
    def api_key(self) -> str: ...

    @property
    def base_url(self) -> str | None: ...

    @property
    def source(self) -> str: ...  # "organization" or "environment"

    @property
    def egress(self) -> EgressPolicy | None: ...  # set when base_url is the tenant's


def model_config_for(
    llm: ServiceChoice, openai: OpenAIKey | None = None, *, egress: EgressPolicy | None = None
) -> ModelConfig:
    """The model a workflow's LLM settings ask for, given the organization's OpenAI key.

    No provider set: OpenAI when a key is available, else the offline engine. ``openai``
    without a key also falls back to the offline engine (a call must never go silent);
    ``SessionInfo.engine`` shows which one ran. ``openai-compatible`` needs ``base_url``.

    A workflow ``base_url`` is the tenant's endpoint: it gets the organization's stored key
    (``source == "organization"``) or no key at all, never the server's, and connects
    through ``egress`` (default: non-public addresses refused).
    """
    provider = llm.provider
    own_key = openai.api_key if openai is not None and openai.source == "organization" else None
    if llm.base_url and provider in (None, "openai", "openai-compatible"):
        return ModelConfig(provider=provider or "openai-compatible",
                           model=llm.model or ("default" if provider != "openai"
                                               else DEFAULT_OPENAI_MODEL),
                           api_key=own_key, base_url=llm.base_url,
                           egress=egress or EgressPolicy())
    if provider in (None, "openai") and openai is not None and openai.api_key:
        return ModelConfig(provider="openai", model=llm.model or DEFAULT_OPENAI_MODEL,
                           api_key=openai.api_key, base_url=openai.base_url,
                           egress=openai.egress)
    return ModelConfig(provider="offline")


def build_model(config: ModelConfig) -> Model:
    """The ``Model`` for ``config`` (a fresh client; share the result within a session)."""
    if config.provider == "offline":
        return OfflineScriptedModel()
    # A tenant's endpoint without a key of the tenant's own gets a placeholder, never None:
    # the SDK would otherwise read OPENAI_API_KEY from the server's environment.
    client = LeanOpenAI(  # the SDK's client without its per-turn transform of the history
        api_key=config.api_key or "unused",
        base_url=config.base_url,
        timeout=config.timeout_seconds,
        max_retries=1,
        http_client=(config.egress.openai_http_client(timeout=config.timeout_seconds)
                     if config.egress is not None else None),
    )
    if config.wire_api == "responses":
        return OpenAIResponsesModel(model=config.model, openai_client=client)
    return OpenAIChatCompletionsModel(model=config.model, openai_client=client)


_models: dict[ModelConfig, Model] = {}


def shared_model(config: ModelConfig) -> Model:
    """One Model (and HTTP connection pool) per distinct provider configuration."""
    model = _models.get(config)
    if model is None:
        if len(_models) >= 64:
            _models.pop(next(iter(_models)))
        model = _models[config] = build_model(config)
    return model


def model_settings(config: ModelConfig) -> ModelSettings:
    if config.provider == "offline":
        return ModelSettings()
    # include_usage: OpenAI-compatible servers only report streamed usage when asked.
    return ModelSettings(include_usage=True, temperature=config.temperature)
