"""``LeanOpenAI`` sends the same chat-completions request as the SDK's client, without the
SDK's per-turn transform of the conversation (runtime/openai_client.py)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, TypedDict

import httpx
from agents import Agent, ModelSettings, RunConfig, Runner, function_tool
from agents.models.openai_chatcompletions import OpenAIChatCompletionsModel
from openai import AsyncOpenAI
from openai import _base_client as openai_base_client
from openai._utils._transform import PropertyInfo
from openai.types.chat import ChatCompletionChunk

from runtime import openai_client
from runtime.openai_client import LeanOpenAI, plain_json, untransformed
from runtime.warm_up import _sse


@function_tool
def lookup_order(order: str, include_items: bool = False) -> str:
    """Look up an order by its number."""
    return order


# A conversation with every kind of message the agent sends: system, user text, user
# content parts, an assistant tool call, the tool's result, an assistant reply.
HISTORY: list[Any] = [
    {"role": "user", "content": "Where is my order?"},
    {"role": "assistant", "content": "Which order number?"},
    {"role": "user", "content": [{"type": "input_text", "text": "It is 1234."}]},
    {"type": "function_call", "call_id": "call_1", "name": "lookup_order",
     "arguments": json.dumps({"order": "1234"})},
    {"type": "function_call_output", "call_id": "call_1", "output": "shipped"},
    {"role": "assistant", "content": "It has shipped."},
    {"role": "user", "content": "Thanks, and when does it arrive?"},
]  # fmt: skip


async def _bodies(client_type: type[AsyncOpenAI], history: list[Any]) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    def reply(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        return httpx.Response(200, content=_sse(), headers={"content-type": "text/event-stream"})

    async with httpx.AsyncClient(transport=httpx.MockTransport(reply)) as http:
        client = client_type(api_key="k", base_url="http://llm.invalid/v1", http_client=http)
        agent = Agent(name="desk", instructions="You answer about orders.", tools=[lookup_order])
        config = RunConfig(model=OpenAIChatCompletionsModel(model="m", openai_client=client),
                           model_settings=ModelSettings(include_usage=True, temperature=0.3,
                                                        extra_body={"top_k": 5}),
                           tracing_disabled=True)  # fmt: skip
        result = Runner.run_streamed(agent, input=history, run_config=config)
        async for _ in result.stream_events():
            pass
    return sent


async def test_the_request_is_the_one_the_sdk_sends() -> None:
    lean, stock = await _bodies(LeanOpenAI, HISTORY), await _bodies(AsyncOpenAI, HISTORY)
    assert len(lean) == len(stock) == 1
    assert lean == stock
    assert len(lean[0]["messages"]) == 8 and lean[0]["tools"][0]["function"]["name"] == "lookup_order"
    assert lean[0]["top_k"] == 5  # the operator's extra_body still reaches the request


async def test_the_sdk_transform_is_skipped(monkeypatch) -> None:
    walked: list[object] = []
    original = openai_client.AsyncCompletions.create

    async def counting(self, **kwargs):  # the body the SDK's create will transform
        walked.append(kwargs["messages"])
        return await original(self, **kwargs)

    monkeypatch.setattr(openai_client.AsyncCompletions, "create", counting)
    await _bodies(LeanOpenAI, HISTORY)
    assert walked == [[]]  # the conversation went around the transform, in extra_body


def test_anything_but_plain_json_takes_the_sdk_path() -> None:
    kwargs = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "extra_body": None}
    moved = untransformed(kwargs)
    assert moved["messages"] == [] and moved["extra_body"]["messages"] == kwargs["messages"]
    for odd in ({"role": "user", "content": ("a", "b")},  # a tuple: the SDK lists it
                {"role": "user", "content": datetime(2026, 1, 1)},  # the SDK formats dates
                {1: "non-string key"}):  # fmt: skip
        assert not plain_json([odd])
        given = {"model": "m", "messages": [odd]}
        assert untransformed(given) is given
    # messages the SDK must list (a tuple) stay with it; plain tools still go around
    tools = [{"type": "function", "function": {"name": "f", "parameters": {}}}]
    given = {"model": "m", "messages": ({"role": "user", "content": "hi"},), "tools": tools}
    moved = untransformed(given)
    assert moved["messages"] == given["messages"] and moved["extra_body"] == {"tools": tools}


class Aliased(TypedDict):
    card_id: Annotated[str, PropertyInfo(alias="cardID")]


class Outer(TypedDict):
    cards: list[Aliased]


def test_an_sdk_type_with_a_transform_is_detected() -> None:
    assert openai_client._carries_transform(Outer, set())
    assert openai_client.transform_is_identity()  # the installed SDK's chat params: none


# Streamed chunks as providers send them: a first delta with the role, a tool call split
# over two chunks, a provider's extra field, the finish with logprobs null, the usage.
def _chunk(choices: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m",
            "choices": choices, **extra}  # fmt: skip


_CALL_START = {"index": 0, "id": "call_1", "type": "function",
               "function": {"name": "lookup_order", "arguments": ""}}  # fmt: skip
_CALL_ARGS = {"index": 0, "function": {"arguments": '{"order": 1}'}}
CHUNKS: list[dict[str, Any]] = [
    _chunk([{"index": 0, "delta": {"role": "assistant", "content": "Hi"}, "finish_reason": None,
             "logprobs": None}], system_fingerprint="fp"),
    _chunk([{"index": 0, "delta": {"tool_calls": [_CALL_START]}, "finish_reason": None}]),
    _chunk([{"index": 0, "delta": {"tool_calls": [_CALL_ARGS]}, "finish_reason": "tool_calls",
             "logprobs": None}], x_provider={"region": "eu"}),
    _chunk([], usage={"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}),
]  # fmt: skip

# Off the schema: what the SDK's lenient build accepts and validation would refuse.
ODD_CHUNKS: list[dict[str, Any]] = [
    _chunk([{"index": 0, "delta": {"content": "Hi"}, "finish_reason": None}], created=None),
    _chunk([{"index": 0, "delta": {"role": "model", "content": "Hi"}, "finish_reason": "eos"}]),
]


def _parse(client_type: type[AsyncOpenAI], chunk: dict[str, Any]) -> Any:
    client = client_type(api_key="k", base_url="http://llm.invalid/v1")
    response = httpx.Response(200, request=httpx.Request("POST", "http://llm.invalid/v1/chat/completions"))
    return client._process_response_data(data=chunk, cast_to=ChatCompletionChunk, response=response)


def test_a_streamed_chunk_is_the_model_the_sdk_builds(monkeypatch) -> None:
    built: list[object] = []
    construct = openai_base_client.construct_type

    def counting(**kwargs: Any) -> Any:
        built.append(kwargs["value"])
        return construct(**kwargs)

    monkeypatch.setattr(openai_base_client, "construct_type", counting)
    for chunk in CHUNKS:
        ours, sdk = _parse(LeanOpenAI, chunk), _parse(AsyncOpenAI, chunk)
        assert type(ours) is ChatCompletionChunk
        assert ours == sdk and ours.model_dump() == sdk.model_dump()
        # the same fields set; pydantic counts a provider's extra field as set, the SDK not
        assert ours.model_fields_set - set(ours.model_extra or {}) == sdk.model_fields_set
        for a, b in zip(ours.choices, sdk.choices, strict=True):
            assert a.delta.model_fields_set == b.delta.model_fields_set
    assert len(built) == len(CHUNKS)  # only the SDK's client built them field by field
    assert _parse(LeanOpenAI, CHUNKS[2]).model_extra == {"x_provider": {"region": "eu"}}


def test_a_chunk_off_the_schema_gets_the_sdks_lenient_build() -> None:
    for chunk in ODD_CHUNKS:
        ours, sdk = _parse(LeanOpenAI, chunk), _parse(AsyncOpenAI, chunk)
        assert ours.model_dump() == sdk.model_dump()
    assert _parse(LeanOpenAI, ODD_CHUNKS[0]).created is None
    assert _parse(LeanOpenAI, ODD_CHUNKS[1]).choices[0].finish_reason == "eos"
