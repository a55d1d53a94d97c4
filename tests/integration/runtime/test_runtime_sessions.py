"""Agent sessions on openai-agents against a fake OpenAI server (chat completions + responses).

The real SDKs (openai, openai-agents) talk to ``tests.fakes.openai_server.FakeOpenAI`` on
127.0.0.1; tools call a local aiohttp server.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from runtime.compile import compile_cache
from runtime.contract import (
    AgentSession,
    EndCall,
    HandedOff,
    ModelUsage,
    TextDelta,
    ToolCalled,
    TransferCall,
)
from runtime.egress import EgressPolicy
from runtime.models import ModelConfig
from runtime.sessions import create_session
from runtime.templates import order_desk
from tests.fakes import LoopbackServer
from tests.fakes.openai_server import FakeOpenAI, call, fail, say

APIS = ["chat_completions", "responses"]


class OrdersApi(LoopbackServer):
    """The customer's order service the HTTP tool calls."""

    def __init__(self, delay: float = 0.0) -> None:
        super().__init__()
        self.delay = delay
        self.calls: list[dict[str, Any]] = []
        self.app.router.add_get("/orders", self._get)

    async def _get(self, request: web.Request) -> web.Response:
        self.calls.append({"query": dict(request.query), "auth": request.headers.get("X-Key")})
        await asyncio.sleep(self.delay)
        return web.json_response({"status": "shipped", "eta": "Tuesday"})


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI(api_key="sk-test") as server:
        yield server


@pytest.fixture
async def orders_api() -> AsyncIterator[OrdersApi]:
    async with OrdersApi() as server:
        yield server


LOCAL = EgressPolicy(allow_private=True)  # the tools' services are loopback fakes


def _config(fake: FakeOpenAI, api: str) -> ModelConfig:
    return ModelConfig(provider="openai-compatible", model="fake-model", api_key="sk-test",
                       base_url=fake.base_url, api=api)  # type: ignore[arg-type]


async def _turn(session: AgentSession, text: str) -> list[Any]:
    return [event async for event in session.respond(text)]


def _spoken(events: list[Any]) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


@pytest.mark.parametrize("api", APIS)
async def test_three_node_workflow_handoffs_tools_and_end(
    fake: FakeOpenAI, orders_api: OrdersApi, api: str
) -> None:
    definition = order_desk(tool_url=f"{orders_api.http_url}/orders")
    definition["tools"][0]["headers"] = {"X-Key": "{{secret.orders_key}}"}
    session = create_session(definition, variables={"caller_name": "Ann"},
                             model=_config(fake, api), secrets={"orders_key": "k-123"},
                             egress=LOCAL)
    assert isinstance(session, AgentSession)
    assert session.greeting() == "Hi Ann, this is Acme. Is this about an order or billing?"
    fake.script(
        call("handoff_to_orders"), say("Sure, what is your order number?"),
        call("lookup_order", {"order_number": "12345"}), say("It shipped, arriving Tuesday."),
        call("handoff_to_goodbye"), say("Thanks for calling, goodbye!"),
    )

    turn1 = await _turn(session, "I have a question about my order")
    assert [e for e in turn1 if isinstance(e, HandedOff)] == [HandedOff("start", "orders")]
    assert _spoken(turn1) == "Sure, what is your order number?"
    assert session.current_node == "orders"
    # The start node's model call offered both edges as handoffs, described by conditions.
    first = fake.requests[0]
    offered = {_tool_name(t): _tool_description(t) for t in first["tools"]}
    conditions = {e["to"]: e["condition"] for e in order_desk()["edges"] if e["from"] == "start"}
    assert offered["handoff_to_orders"] == conditions["orders"]
    assert offered["handoff_to_billing"] == conditions["billing"]
    assert offered["handoff_to_orders"].startswith("The caller asks about an order")
    assert "Hi Ann" in json.dumps(first)  # the greeting is in the history

    turn2 = await _turn(session, "It's 12345")
    tools = [e for e in turn2 if isinstance(e, ToolCalled)]
    assert tools == [ToolCalled("lookup_order", {"order_number": "12345"},
                                '{"status": "shipped", "eta": "Tuesday"}', None)]
    assert orders_api.calls == [{"query": {"order_number": "12345"}, "auth": "k-123"}]
    assert not any(isinstance(e, HandedOff) for e in turn2)
    assert session.current_node == "orders"

    turn3 = await _turn(session, "great, thanks, bye")
    assert [e for e in turn3 if isinstance(e, HandedOff)] == [HandedOff("orders", "goodbye")]
    # The edge's transition words are spoken before the end node's goodbye.
    assert _spoken(turn3) == "Glad I could help. Thanks for calling, goodbye!"
    assert isinstance(turn3[-1], EndCall)
    assert session.current_node == "goodbye"

    usages = [e for t in (turn1, turn2, turn3) for e in t if isinstance(e, ModelUsage)]
    assert [(u.input_tokens, u.output_tokens) for u in usages] == [(22, 14)] * 3
    assert usages[0].provider == "openai-compatible" and usages[0].model == "fake-model"
    assert fake.paths[0] == ("/v1/responses" if api == "responses" else "/v1/chat/completions")
    history = session.history()
    assert [h["role"] for h in history] == [
        "assistant", "user", "assistant", "user", "tool_call", "tool", "assistant", "user",
        "assistant",
    ]
    assert history[5]["name"] == "lookup_order"
    if api == "responses":  # replayed tool calls carry no server item ids
        replayed = [i for i in fake.requests[-1]["input"] if i.get("type") == "function_call"
                    and i["name"] in ("handoff_to_orders", "lookup_order")]  # earlier turns
        assert len(replayed) == 2 and all("id" not in i for i in replayed)


def _tool_name(tool: dict[str, Any]) -> str:
    return tool.get("name") or tool["function"]["name"]


def _tool_description(tool: dict[str, Any]) -> str:
    return tool.get("description") or tool["function"]["description"]


@pytest.mark.parametrize("api", APIS)
async def test_http_tool_timeout_is_a_clean_error(fake: FakeOpenAI, api: str) -> None:
    async with OrdersApi(delay=1.0) as slow:
        definition = order_desk(tool_url=f"{slow.http_url}/orders")
        definition["tools"][0]["timeout_seconds"] = 0.2
        session = create_session(definition, variables={}, model=_config(fake, api),
                                 egress=LOCAL)
        fake.script(call("handoff_to_orders"), say("Number?"),
                    call("lookup_order", {"order_number": "9"}), say("Sorry, try later."))
        await _turn(session, "my order")
        events = await _turn(session, "number 9")
    tool = next(e for e in events if isinstance(e, ToolCalled))
    assert tool.error == "timeout"
    assert "timed out" in tool.result
    assert _spoken(events) == "Sorry, try later."
    # The model saw the error as the tool's output and the session carries on.
    assert "timed out" in json.dumps(fake.requests[-1])
    assert session.current_node == "orders"


@pytest.mark.parametrize("api", APIS)
async def test_end_call_tool_ends_after_goodbye(fake: FakeOpenAI, api: str) -> None:
    session = create_session(order_desk(), variables={}, model=_config(fake, api))
    fake.script(call("handoff_to_billing"), say("Billing here."),
                call("end_call"), say("Goodbye!"))
    await _turn(session, "billing question")
    events = await _turn(session, "that's all")
    assert [type(e).__name__ for e in events][-2:] == ["ModelUsage", "EndCall"]
    assert next(e for e in events if isinstance(e, ToolCalled)).name == "end_call"
    assert _spoken(events) == "Goodbye!"
    assert session.ended


async def test_transfer_call_uses_the_declared_destination(fake: FakeOpenAI) -> None:
    definition = order_desk()
    definition["tools"].append({"type": "transfer_call", "destination": "+15550001111"})
    definition["nodes"][2]["tools"].append("transfer_call")
    session = create_session(definition, variables={}, model=_config(fake, "chat_completions"))
    fake.script(call("handoff_to_billing"), say("Billing."),
                call("transfer_call", {"to": "+19990000000"}), say("Transferring you."))
    await _turn(session, "billing")
    events = await _turn(session, "a human please")
    assert TransferCall("+15550001111") in events


@pytest.mark.parametrize("api", APIS)
async def test_cancel_mid_stream_keeps_only_spoken_text(fake: FakeOpenAI, api: str) -> None:
    session = create_session(order_desk(), variables={}, model=_config(fake, api))
    long_reply = "This is a long answer that goes on and on for quite a while indeed."
    fake.script(say(long_reply, hold_seconds=6.0))
    first_delta = asyncio.Event()
    received: list[str] = []

    async def consume() -> None:
        async for event in session.respond("tell me everything"):
            if isinstance(event, TextDelta):
                received.append(event.text)
                first_delta.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(first_delta.wait(), 10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert session.current_node == "start"
    partial = "".join(received)
    assert partial and partial != long_reply
    assert session.history()[-2:] == [
        {"role": "user", "content": "tell me everything"},
        {"role": "assistant", "content": partial},
    ]
    session.interrupted("This is")
    assert session.history()[-1] == {"role": "assistant", "content": "This is"}
    # The run really stopped: the server saw the stream dropped.
    for _ in range(100):
        if fake.disconnects:
            break
        await asyncio.sleep(0.05)
    assert fake.disconnects >= 1

    fake.script(say("OK, briefly then."))
    events = await _turn(session, "sorry, go on")
    assert _spoken(events) == "OK, briefly then."
    sent = json.dumps(fake.requests[-1])
    assert "This is" in sent and "quite a while" not in sent


async def test_interrupt_with_nothing_spoken_drops_the_reply(fake: FakeOpenAI) -> None:
    session = create_session(order_desk(), variables={}, model=_config(fake, "chat_completions"))
    fake.script(say("A reply nobody heard."))
    await _turn(session, "hello")
    session.interrupted("")
    assert session.history()[-1] == {"role": "user", "content": "hello"}


async def test_replies_are_made_speakable(fake: FakeOpenAI) -> None:
    session = create_session(order_desk(), variables={}, model=_config(fake, "chat_completions"),
                             max_reply_chars=60)
    fake.script(say("## Options\n- **Orders**: see [the site](https://x.example). "
                    "Second sentence here. Third sentence is far too long to keep."))
    events = await _turn(session, "what can you do")
    spoken = _spoken(events)
    assert not any(mark in spoken for mark in ("#", "*", "[", "](", "\n"))
    assert spoken.startswith("Options Orders: see the site.")
    assert len(spoken) <= 60 and spoken.endswith(".")
    assert session.history()[-1]["content"] == spoken


async def test_input_guardrail_refuses_without_calling_the_model(fake: FakeOpenAI) -> None:
    async def check(text: str) -> str | None:
        return "I can't help with that." if "password" in text else None

    session = create_session(order_desk(), variables={}, model=_config(fake, "chat_completions"),
                             input_check=check)
    events = await _turn(session, "tell me the admin password")
    assert _spoken(events) == "I can't help with that."
    assert fake.requests == []
    fake.script(say("Sure."))
    assert _spoken(await _turn(session, "my order")) == "Sure."


async def test_model_failure_speaks_a_fallback(fake: FakeOpenAI) -> None:
    session = create_session(order_desk(), variables={}, model=_config(fake, "chat_completions"))
    fake.script(fail(500), fail(500), fail(500))
    events = await _turn(session, "hello")
    assert "trouble" in _spoken(events)
    assert session.info.extra["last_error"] == "model_run_failed"
    assert session.current_node == "start"


async def test_versions_compile_once(fake: FakeOpenAI) -> None:
    before = compile_cache.compiles
    config = _config(fake, "chat_completions")
    a = create_session(order_desk(), variables={}, model=config, workflow_id="wf-1", version=3)
    b = create_session(order_desk(), variables={}, model=config, workflow_id="wf-1", version=3)
    assert compile_cache.compiles == before + 1
    create_session(order_desk(), variables={}, model=config)  # drafts are never cached
    assert compile_cache.compiles == before + 2
    # Shared agents, separate conversations.
    fake.script(call("handoff_to_orders"), say("Orders."))
    await _turn(a, "order")
    assert (a.current_node, b.current_node) == ("orders", "start")
    assert a.info.workflow_version == 3
