"""Model providers for the agent runtime, all behind the openai-agents ``Model`` interface.

* ``openai`` — OpenAI's API (Responses API by default).
* ``openai-compatible`` — any OpenAI-compatible ``base_url`` (Ollama, vLLM, Groq, ...) over
  Chat Completions by default.
* ``offline`` — the offline scripted engine (``runtime.offline_model``): not an LLM; it speaks
  node text and follows edges whose condition words match the caller.
"""

from __future__ import annotations

from typing import Literal

import agents
from agents import Model, ModelSettings, OpenAIChatCompletionsModel, OpenAIResponsesModel
from openai import AsyncOpenAI
from pydantic import BaseModel, ConfigDict, Field

from runtime.offline_model import OFFLINE_ENGINE, OfflineScriptedModel
from runtime.workflow import ServiceChoice

# The SDK's default exporter ships traces to OpenAI: never from a self-hosted voice server.
agents.set_tracing_disabled(True)


class ModelConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    provider: Literal["openai", "openai-compatible", "offline"] = "offline"
    model: str = OFFLINE_ENGINE
    api_key: str | None = Field(default=None, repr=False)
    base_url: str | None = None
    api: Literal["chat_completions", "responses"] | None = Field(
        default=None,
        description="Wire API; default responses for openai, chat_completions otherwise",
    )
    timeout_seconds: float = Field(default=30.0, gt=0)
    temperature: float | None = None

    @property
    def engine(self) -> str:
        return OFFLINE_ENGINE if self.provider == "offline" else self.provider

    @property
    def wire_api(self) -> str:
        if self.api:
            return self.api
        return "responses" if self.provider == "openai" else "chat_completions"


DEFAULT_OPENAI_MODEL = "gpt-4.1-mini"


def model_config_for(
    llm: ServiceChoice, *, openai_api_key: str | None = None, openai_base_url: str | None = None
) -> ModelConfig:
    """The model a workflow's LLM settings ask for, given the organization's OpenAI key.

    No provider set: OpenAI when a key is available, else the offline engine. ``openai``
    without a key also falls back to the offline engine (a call must never go silent);
    ``SessionInfo.engine`` shows which one ran. ``openai-compatible`` needs ``base_url``.
    """
    provider = llm.provider
    if provider == "openai-compatible" and llm.base_url:
        return ModelConfig(provider="openai-compatible", model=llm.model or "default",
                           api_key=openai_api_key, base_url=llm.base_url)
    if provider in (None, "openai") and openai_api_key:
        return ModelConfig(provider="openai", model=llm.model or DEFAULT_OPENAI_MODEL,
                           api_key=openai_api_key, base_url=openai_base_url)
    return ModelConfig(provider="offline")


def build_model(config: ModelConfig) -> Model:
    """The ``Model`` for ``config`` (a fresh client; share the result within a session)."""
    if config.provider == "offline":
        return OfflineScriptedModel()
    client = AsyncOpenAI(
        api_key=config.api_key or ("unused" if config.provider == "openai-compatible" else None),
        base_url=config.base_url,
        timeout=config.timeout_seconds,
        max_retries=1,
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
