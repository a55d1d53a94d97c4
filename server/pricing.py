"""Unit prices per provider (the ``PRICING`` setting) and the cost estimate of usage.

Usage rows record quantities (call seconds, STT seconds, LLM tokens, TTS characters) per
provider and model; a price list turns them into money. Prices are the operator's: every
default is 0 (this server does not guess a provider's list price, which changes), so a cost
of 0 means "not priced", not "free". Set them with ``PRICING`` (JSON), for example::

    PRICING='{"currency": "USD", "providers": {
      "deepgram": {"stt_per_minute": 0.0043, "tts_per_1k_characters": 0.015},
      "openai": {"llm_input_per_1k_tokens": 0.00015, "llm_output_per_1k_tokens": 0.0006},
      "openai/gpt-4o": {"llm_input_per_1k_tokens": 0.0025, "llm_output_per_1k_tokens": 0.01},
      "twilio": {"carrier_per_minute": 0.0085}}}'

A key is a provider as usage records name it (``deepgram``, ``openai``, a carrier, ``webrtc``)
or ``provider/model`` for one model; the model's entry wins over the provider's.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

UsageKind = Literal["call_seconds", "stt_seconds", "llm_input_tokens", "llm_output_tokens", "tts_characters"]

# kind -> (the price field that applies, how many units the price is per)
_RATE: dict[str, tuple[str, float]] = {
    "call_seconds": ("carrier_per_minute", 60.0),
    "stt_seconds": ("stt_per_minute", 60.0),
    "tts_characters": ("tts_per_1k_characters", 1000.0),
    "llm_input_tokens": ("llm_input_per_1k_tokens", 1000.0),
    "llm_output_tokens": ("llm_output_per_1k_tokens", 1000.0),
}

# How a kind's quantity is shown next to its price (CSV "unit" column).
UNIT: dict[str, str] = {
    "call_seconds": "second", "stt_seconds": "second", "tts_characters": "character",
    "llm_input_tokens": "token", "llm_output_tokens": "token",
}  # fmt: skip

COST_DIGITS = 6  # costs are estimates rounded to a millionth of the currency unit


class ProviderPrices(BaseModel):
    """One provider's (or model's) unit prices, in the price list's currency."""

    model_config = ConfigDict(extra="forbid")

    stt_per_minute: float = Field(default=0.0, ge=0, description="Speech-to-text, per audio minute")
    tts_per_1k_characters: float = Field(default=0.0, ge=0, description="Text-to-speech")
    llm_input_per_1k_tokens: float = Field(default=0.0, ge=0, description="LLM prompt tokens")
    llm_output_per_1k_tokens: float = Field(default=0.0, ge=0, description="LLM reply tokens")
    carrier_per_minute: float = Field(default=0.0, ge=0, description="Call minutes (carrier)")


class Pricing(BaseModel):
    """The price list: currency and prices per provider or ``provider/model``."""

    model_config = ConfigDict(extra="forbid")

    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$", description="ISO 4217 code")
    providers: dict[str, ProviderPrices] = Field(default_factory=dict)

    def unit_price(self, kind: str, provider: str, model: str | None = None) -> float:
        """The price of one unit of ``kind`` (0 when the list has none)."""
        rate = _RATE.get(kind)
        if rate is None:
            return 0.0
        field, per = rate
        prices = (self.providers.get(f"{provider}/{model}") if model else None) or (
            self.providers.get(provider)
        )
        return getattr(prices, field) / per if prices is not None else 0.0

    def cost(self, kind: str, provider: str, model: str | None, quantity: float) -> float:
        """The estimated cost of ``quantity`` units of ``kind`` from ``provider``/``model``."""
        return round(quantity * self.unit_price(kind, provider, model), COST_DIGITS)


def add(a: float, b: float) -> float:
    """Sum two costs without float noise piling up past ``COST_DIGITS``."""
    return round(a + b, COST_DIGITS)
