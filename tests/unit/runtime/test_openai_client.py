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
from openai._utils._transform import PropertyInfo

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
