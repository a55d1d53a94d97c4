"""Which key goes to which LLM endpoint (finding 2): never the server's to a tenant URL."""

from __future__ import annotations

from dataclasses import dataclass

from runtime.egress import EgressPolicy
from runtime.models import LLM_PROVIDERS, ModelConfig, model_config_for
from runtime.workflow import ServiceChoice


@dataclass(frozen=True)
class Key:
    api_key: str
    base_url: str | None = None
    source: str = "environment"
    egress: EgressPolicy | None = None


SERVER = Key("sk-server", "https://api.openai.com/v1")
TENANT_URL = "https://llm.tenant.example/v1"


def test_tenant_base_url_never_gets_the_server_key() -> None:
    policy = EgressPolicy()
    for provider in ("openai-compatible", "openai", None):
        config = model_config_for(ServiceChoice(provider=provider, base_url=TENANT_URL), SERVER,
                                  egress=policy)
        assert config.base_url == TENANT_URL and config.api_key is None
        assert config.egress is policy
    own = model_config_for(ServiceChoice(provider="openai-compatible", base_url=TENANT_URL),
                           Key("sk-org", source="organization"), egress=policy)
    assert own.api_key == "sk-org" and own.egress is policy


def test_server_key_goes_to_the_server_endpoint_unguarded() -> None:
    config = model_config_for(ServiceChoice(), SERVER)
    assert (config.provider, config.api_key, config.base_url) == (
        "openai", "sk-server", "https://api.openai.com/v1")
    assert config.egress is None
    assert model_config_for(ServiceChoice(), None) == ModelConfig(provider="offline")


def test_organization_base_url_is_guarded() -> None:
    policy = EgressPolicy()
    key = Key("sk-org", TENANT_URL, "organization", policy)
    config = model_config_for(ServiceChoice(provider="openai"), key)
    assert config.api_key == "sk-org" and config.egress is policy


def test_provider_names_are_exported() -> None:
    assert {"openai", "openai-compatible", "offline"} == LLM_PROVIDERS
