"""The offline scripted engine drives the same workflow with no model server at all."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from runtime.contract import EndCall, HandedOff, ModelUsage, TextDelta, ToolCalled
from runtime.egress import EgressPolicy
from runtime.guardrails import SpeakableFilter, clean_markdown
from runtime.models import ModelConfig
from runtime.offline_model import OFFLINE_ENGINE, match_score
from runtime.sessions import create_session
from runtime.templates import order_desk
from tests.fakes import LoopbackServer

OFFLINE = ModelConfig(provider="offline")


class OrdersApi(LoopbackServer):
    def __init__(self) -> None:
        super().__init__()
        self.queries: list[dict[str, str]] = []
        self.app.router.add_get("/orders", self._get)

    async def _get(self, request: web.Request) -> web.Response:
        self.queries.append(dict(request.query))
        return web.json_response({"status": "shipped"})


async def _turn(session: Any, text: str) -> list[Any]:
    return [event async for event in session.respond(text)]


def _spoken(events: list[Any]) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


async def test_offline_engine_walks_the_workflow_and_calls_the_tool() -> None:
    async with OrdersApi() as api:
        session = create_session(order_desk(tool_url=f"{api.http_url}/orders"),
                                 variables={"caller_name": "Bo"}, model=OFFLINE,
                                 egress=EgressPolicy(allow_private=True))
        assert session.info.engine == OFFLINE_ENGINE
        assert session.greeting() == "Hi Bo, this is Acme. Is this about an order or billing?"

        unclear = await _turn(session, "hmm")
        assert session.current_node == "start"
        assert _spoken(unclear) == "Is this about an order or about billing?"

        turn1 = await _turn(session, "I have a question about my order")
        assert HandedOff("start", "orders") in turn1
        assert _spoken(turn1) == "Sure. What is your order number?"

        turn2 = await _turn(session, "it is 4 4 7 1")
        tool = next(e for e in turn2 if isinstance(e, ToolCalled))
        assert tool.name == "lookup_order" and tool.error is None
        assert api.queries == [{"order_number": "4471"}]  # spaced digits are one number
        assert _spoken(turn2) == "status: shipped"

        turn3 = await _turn(session, "thanks, bye")
        assert HandedOff("orders", "goodbye") in turn3
        assert _spoken(turn3) == "Glad I could help. Thanks for calling Acme. Goodbye!"
        assert isinstance(turn3[-1], EndCall)
        usage = next(e for e in turn3 if isinstance(e, ModelUsage))
        assert usage.provider == OFFLINE_ENGINE and usage.input_tokens == 0


async def test_offline_billing_branch_and_end_call_builtin() -> None:
    definition = order_desk()
    definition["nodes"][2]["interruptible"] = False
    session = create_session(definition, variables={}, model=OFFLINE)
    assert session.interruptible
    await _turn(session, "I have a billing question")
    assert session.current_node == "billing"
    assert not session.interruptible
    events = await _turn(session, "no that's it, goodbye")
    # No edge condition matches "goodbye" here; the end_call built-in's trigger words do.
    names = [type(e).__name__ for e in events]
    assert "EndCall" in names
    assert session.ended


async def test_goodbye_is_never_interruptible() -> None:
    """Once the agent has decided to end the call, its last words play out: the caller
    still finishing a sentence ("that is all, thank you very much") must not cut the
    goodbye and leave the call to end in silence."""
    session = create_session(order_desk(), variables={}, model=OFFLINE)
    await _turn(session, "I have a billing question")
    assert session.interruptible  # every node of the template is interruptible
    events = await _turn(session, "no that's it, goodbye")
    assert "EndCall" in [type(e).__name__ for e in events]
    assert not session.interruptible


async def test_offline_cancellation_keeps_history_consistent() -> None:
    session = create_session(order_desk(), variables={}, model=OFFLINE)
    started = asyncio.Event()

    async def consume() -> None:
        async for event in session.respond("my order please"):
            if isinstance(event, TextDelta):
                started.set()
                await asyncio.sleep(10)  # the pipeline is still speaking when barge-in hits

    task = asyncio.create_task(consume())
    await asyncio.wait_for(started.wait(), 5)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    session.interrupted("Sure.")
    assert session.history()[-2:] == [{"role": "user", "content": "my order please"},
                                      {"role": "assistant", "content": "Sure."}]
    # A cancelled run does not move the node.
    assert session.current_node == "start"


def test_condition_matching() -> None:
    assert match_score("The caller asks about an order", "where is my order") == 1
    assert match_score("The caller asks about an order", "billing please") == 0
    # A quoted example phrase said (nearly) verbatim counts 3 on top of its keywords.
    assert match_score('Caller says "speak to sales"', "can I speak to sales now") == 5
    assert match_score('Caller says "speak to sales"', "sales") == 1


def test_speakable_filter_streams_words_and_strips_markdown() -> None:
    filt = SpeakableFilter(max_chars=500)
    out = [filt.feed(p) for p in ["**Hel", "lo** ", "`world` ", "and [docs](http://x"]]
    out += [filt.feed(") now. "), filt.flush()]
    assert "".join(out) == "Hello world and docs now. "
    assert out[0] == ""  # half a word is held back
    assert clean_markdown("# Title\n1. one\n* two") == "Title 1. one two"


async def test_private_tool_destinations_are_refused_by_default() -> None:
    async with OrdersApi() as api:
        session = create_session(order_desk(tool_url=f"{api.http_url}/orders"), variables={},
                                 model=OFFLINE)
        await _turn(session, "about my order")
        events = await _turn(session, "it is 42")
    tool = next(e for e in events if isinstance(e, ToolCalled))
    assert tool.error == "blocked_destination" and "non-public" in tool.result
    assert api.queries == []


async def test_workflow_blocked_phrases_refuse_the_turn() -> None:
    definition = order_desk()
    definition["settings"] = {"guardrails": {"blocked_phrases": ["credit card number"],
                                             "refusal": "I can't take card details."}}
    session = create_session(definition, variables={}, model=OFFLINE)
    events = await _turn(session, "here is my Credit Card Number, about my order")
    assert _spoken(events) == "I can't take card details."
    assert session.current_node == "start"  # the turn did not move the conversation
    assert not any(isinstance(e, HandedOff) for e in events)
    allowed = await _turn(session, "about my order")
    assert HandedOff("start", "orders") in allowed


async def test_opt_out_builtin_records_the_intent() -> None:
    definition = {
        "nodes": [{"id": "start", "type": "start", "say": "Hi, a reminder about your visit.",
                   "tools": ["opt_out", "end_call"]},
                  {"id": "bye", "type": "end", "say": "Goodbye."}],
        "edges": [{"from": "start", "to": "bye", "condition": "thanks bye"}],
    }  # fmt: skip
    from runtime.validation import validate_definition

    assert validate_definition(definition) == []
    session = create_session(definition, variables={}, model=OFFLINE)
    events = await _turn(session, "please stop calling me and remove my number")
    tool = next(e for e in events if isinstance(e, ToolCalled))
    assert tool.name == "opt_out" and tool.error is None
    assert _spoken(events) == "Understood, we will not call you again."
