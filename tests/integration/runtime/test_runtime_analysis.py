"""Post-call analysis: structured-output extraction on a fake OpenAI server, and offline."""

from __future__ import annotations

import json

import pytest

from runtime.analysis import analyze_call
from runtime.models import ModelConfig
from runtime.offline_model import OFFLINE_ENGINE
from runtime.templates import order_desk
from runtime.validation import parse_workflow
from tests.fakes.openai_server import FakeOpenAI, say

HISTORY = [
    {"role": "assistant", "content": "Hi, this is Acme. Is this about an order or billing?"},
    {"role": "user", "content": "my order 5521 has not arrived"},
    {"role": "tool_call", "name": "lookup_order", "content": '{"order_number": "5521"}'},
    {"role": "tool", "name": "lookup_order", "content": '{"status": "shipped"}'},
    {"role": "assistant", "content": "It shipped."},
]


@pytest.mark.parametrize("api", ["chat_completions", "responses"])
async def test_structured_output_extraction(api: str) -> None:
    workflow = parse_workflow(order_desk())
    async with FakeOpenAI() as fake:
        fake.script(say(json.dumps({
            "extracted": {"order_number": "5521", "topic": "orders"},
            "summary": "The caller asked about order 5521, which has shipped.",
        }), input_tokens=120, output_tokens=30))
        config = ModelConfig(provider="openai-compatible", model="m", api_key="k",
                             base_url=fake.base_url, api=api)  # type: ignore[arg-type]
        analysis = await analyze_call(workflow.variables, HISTORY, config)
    assert analysis.extracted == {"order_number": "5521", "topic": "orders"}
    assert analysis.summary.startswith("The caller asked about order 5521")
    assert (analysis.input_tokens, analysis.output_tokens) == (120, 30)
    assert analysis.missing_required == []
    request = json.dumps(fake.requests[0])
    # The transcript and a strict JSON schema naming the declared variables were sent.
    assert "my order 5521 has not arrived" in request
    assert "order_number" in request and "json_schema" in request


async def test_missing_required_values_are_reported() -> None:
    workflow = parse_workflow(order_desk())
    async with FakeOpenAI() as fake:
        fake.script(say(json.dumps({"extracted": {"order_number": None, "topic": None},
                                    "summary": "Short call."})))
        config = ModelConfig(provider="openai-compatible", model="m", base_url=fake.base_url)
        analysis = await analyze_call(workflow.variables, HISTORY, config)
    assert analysis.missing_required == ["topic"]
    assert analysis.summary == "Short call."


async def test_offline_extraction_is_deterministic_and_labelled() -> None:
    workflow = parse_workflow(order_desk())
    analysis = await analyze_call(workflow.variables, HISTORY, ModelConfig(provider="offline"))
    assert analysis.engine == OFFLINE_ENGINE
    assert analysis.extracted == {"order_number": "5521", "topic": None}
    assert analysis.summary.startswith("Offline summary (no language model)")
    assert "my order 5521" in analysis.summary
    assert analysis.missing_required == ["topic"]


async def test_no_variables_and_silent_calls() -> None:
    async with FakeOpenAI() as fake:
        fake.script(say(json.dumps({"summary": "A short chat."})))
        config = ModelConfig(provider="openai-compatible", model="m", base_url=fake.base_url)
        analysis = await analyze_call([], HISTORY, config)
        assert (analysis.extracted, analysis.summary) == ({}, "A short chat.")
        assert "extracted" not in json.dumps(fake.requests[0]["response_format"])
        silent = await analyze_call(parse_workflow(order_desk()).variables, HISTORY[:1], config)
    assert silent.summary == "The caller did not speak."
    assert silent.extracted == {"order_number": None, "topic": None}
    assert len(fake.requests) == 1  # no model run for a silent call
