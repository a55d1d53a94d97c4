"""One agent turn through the whole model stack at start-up, with no network.

The first streamed run in a process pays for what openai-agents, openai and pydantic build
lazily (validators, type caches, imports): measured ~200 ms on the first caller turn after
a restart, every later turn ~10 ms. ``exercise_model_stack`` runs one turn of a streamed
chat-completions agent against an in-memory HTTP transport (``httpx.MockTransport``)
answering with a canned event stream, and imports the anyio backend the HTTP stacks load
on their first real connection (~100 ms), so the first real call does not pay.
"""

from __future__ import annotations

import json

import httpx
from agents import Agent, ModelSettings, RunConfig, Runner, function_tool
from agents.models.openai_chatcompletions import OpenAIChatCompletionsModel
from openai import AsyncOpenAI

_WORDS = ["Warm", " up", " done", "."]


def _sse() -> bytes:
    chunks = [
        {"id": "warm", "object": "chat.completion.chunk", "created": 0, "model": "warm",
         "choices": [{"index": 0, "delta": {"role": "assistant", "content": word},
                      "finish_reason": None}]}
        for word in _WORDS
    ]  # fmt: skip
    chunks.append(
        {"id": "warm", "object": "chat.completion.chunk", "created": 0, "model": "warm",
         "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
         "usage": {"prompt_tokens": 1, "completion_tokens": 4, "total_tokens": 5}}
    )  # fmt: skip
    lines = [f"data: {json.dumps(c)}\n\n" for c in chunks] + ["data: [DONE]\n\n"]
    return "".join(lines).encode()


def _reply(_request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, content=_sse(), headers={"content-type": "text/event-stream"})


@function_tool
def _lookup(order: str) -> str:
    """Look up an order (never called: it makes the request carry a tool schema)."""
    return order


async def exercise_model_stack() -> str:
    """Stream one turn; returns the text the stack produced (``"Warm up done."``)."""
    import anyio.lowlevel

    await anyio.lowlevel.checkpoint()  # imports anyio's asyncio backend (httpcore's AnyIO backend)
    async with httpx.AsyncClient(transport=httpx.MockTransport(_reply)) as http:
        client = AsyncOpenAI(api_key="warm-up", base_url="http://warm-up.invalid/v1", http_client=http)
        model = OpenAIChatCompletionsModel(model="warm", openai_client=client)
        agent = Agent(name="warm", instructions="Say hello.", tools=[_lookup])
        result = Runner.run_streamed(
            agent,
            input=[{"role": "user", "content": "hello"}],
            run_config=RunConfig(
                model=model,
                model_settings=ModelSettings(include_usage=True),
                tracing_disabled=True,
            ),
        )
        text = []
        async for event in result.stream_events():
            data = getattr(event, "data", None)
            if getattr(data, "type", "") == "response.output_text.delta":
                text.append(data.delta)
        return "".join(text)
