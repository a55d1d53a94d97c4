"""The supported-names table the runtime validates against matches what the pipeline and
the model layer actually accept, and settings typos are problems with pointers."""

from __future__ import annotations

from typing import get_args

from pipeline.providers.config import STTProvider, TTSProvider
from runtime import supported
from runtime.models import ModelConfig
from runtime.templates import order_desk
from runtime.validation import key_problems, validate_definition
from runtime.workflow import Workflow


def test_supported_providers_match_the_pipeline_and_model_layer() -> None:
    assert set(supported.STT_PROVIDERS) == set(get_args(STTProvider))
    assert set(supported.TTS_PROVIDERS) == set(get_args(TTSProvider))
    assert set(supported.LLM_PROVIDERS) == set(
        get_args(ModelConfig.model_fields["provider"].annotation))


def _problems(settings: dict) -> set[tuple[str, str]]:
    definition = order_desk()
    definition["settings"] = settings
    return {(p.pointer, p.code) for p in validate_definition(definition)}


def test_typos_are_problems_with_pointers() -> None:
    assert _problems({"llm": {"provider": "opanai"}}) == {
        ("/settings/llm/provider", "unknown_provider")}
    assert _problems({"tts": {"provider": "elevenlab"}, "language": "klingon"}) == {
        ("/settings/tts/provider", "unknown_provider"), ("/settings/language", "unknown_language")}
    assert _problems({"llm": {"provider": "openai-compatible"}}) == {
        ("/settings/llm/base_url", "base_url_required")}
    assert _problems({"tts": {"model": "eleven_flash_v2_5"}}) == {
        ("/settings/tts/model", "model_without_provider")}
    assert _problems({"llm": {"model": "gpt-4.1-mini"}, "language": "es-MX",
                      "stt": {"provider": "deepgram-flux", "model": "flux-general-multi"},
                      "tts": {"provider": "cartesia", "model": "sonic-3.6"}}) == set()


def test_missing_keys_point_at_the_provider() -> None:
    definition = order_desk()
    definition["settings"] = {"llm": {"provider": "openai"}, "stt": {"provider": "deepgram-flux"},
                              "tts": {"provider": "offline"}}
    workflow = Workflow.model_validate(definition)
    assert {p.pointer for p in key_problems(workflow, set())} == {
        "/settings/llm/provider", "/settings/stt/provider"}
    assert key_problems(workflow, {"openai", "deepgram"}) == []
