"""The offline scripted engine: an openai-agents ``Model`` that is NOT a language model.

It lets the server run whole calls with no network and no API key. Labelled
``offline-scripted`` everywhere (session info, usage records) so it is never passed off as an
LLM. Behaviour, fully deterministic:

* After the caller speaks, it compares the caller's words with each handoff's description
  (the edge condition) and each tool's description as intents (keywords, synonyms, quoted
  example phrases, fuzzy/phonetic closeness: :mod:`runtime.offline_understanding`); the
  best match is called. Handoffs win ties. Numbers said as words become digits.
* Otherwise — and right after a handoff — it speaks the node's line, which the compiled agent
  passes as its instructions (``say``, else a neutral line from :func:`offline_line`; never
  the node's prompt, which is an instruction to a model, not words for the caller).
* After a tool ran it speaks the tool's result (``end_call``/``transfer_call``: a short line).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable
from itertools import count
from typing import Any

from agents import Handoff, Model, ModelResponse, ModelSettings, Tool, Usage
from agents.agent_output import AgentOutputSchemaBase
from agents.items import TResponseInputItem, TResponseStreamEvent
from agents.models.interface import ModelTracing
from openai.types.responses import (
    Response,
    ResponseCompletedEvent,
    ResponseCreatedEvent,
    ResponseFunctionToolCall,
    ResponseOutputItemAddedEvent,
    ResponseOutputItemDoneEvent,
    ResponseOutputMessage,
    ResponseOutputText,
    ResponseTextDeltaEvent,
    ResponseUsage,
)
from openai.types.responses.response_usage import InputTokensDetails, OutputTokensDetails

from runtime.offline_understanding import Intent, intent_of, numbers_in, score, weights
from runtime.workflow import Node

OFFLINE_ENGINE = "offline-scripted"

_BUILTIN_INTENTS = {
    "end_call": Intent(frozenset({"bye", "hang"}), ()),
    "transfer_call": Intent(frozenset({"human", "transfer"}), ()),
    "opt_out": Intent(frozenset({"stop", "unsubscribe", "remove"}), ()),
}
_BUILTIN_LINES = {"end_call": "Goodbye.", "transfer_call": "Transferring you now.",
                  "opt_out": "Understood, we will not call you again."}
#: Below this an utterance matches nothing (one keyword heard only approximately, and
#: shared with another intent, is 0.35).
MIN_SCORE = 0.5
_CODE_HINTS = ("id", "number", "code", "digits")


def content_words(text: str) -> set[str]:
    return set(intent_of(text).concepts)


def match_score(condition: str, utterance: str) -> float:
    """How well ``utterance`` matches ``condition`` on its own (0 = no match)."""
    return score(intent_of(condition), utterance)


def offline_line(node: Node) -> str:
    """What the scripted engine says at ``node``: its ``say``, else a neutral line. Never
    the prompt (instructions for a model: callers heard "Find out what the caller wants")."""
    if node.say:
        return node.say
    if node.type == "end":
        return "Thank you for calling. Goodbye."
    if node.type == "start" and node.greeting:
        return node.greeting
    return "Okay. How can I help you with that?"


def _message_text(item: Any) -> str:
    content = item.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


def _arguments_for(schema: dict[str, Any], utterance: str) -> dict[str, Any]:
    args: dict[str, Any] = {}
    numbers = numbers_in(utterance)
    for name, prop in (schema.get("properties") or {}).items():
        kind = prop.get("type") if isinstance(prop, dict) else None
        if kind in ("integer", "number") and numbers:
            digits = numbers[0]
            args[name] = int(digits) if kind == "integer" else float(digits)
        elif kind == "boolean":
            args[name] = True
        elif kind == "string":
            wants_code = any(k in name for k in _CODE_HINTS)
            args[name] = numbers[0] if wants_code and numbers else utterance
    return args


def _fills_codes(schema: dict[str, Any], utterance: str) -> float:
    """When the caller said a number and the tool wants an id/number-like argument: 1, or
    1.5 for a number of 3+ digits (a caller reading out an order or account number; a
    stray word heard near it must not outweigh it)."""
    numbers = numbers_in(utterance)
    if not numbers:
        return 0
    for name, prop in (schema.get("properties") or {}).items():
        kind = prop.get("type") if isinstance(prop, dict) else None
        if kind in ("integer", "number") or any(k in name for k in _CODE_HINTS):
            return 1.5 if max(len(n) for n in numbers) >= 3 else 1
    return 0


class OfflineScriptedModel(Model):
    """Deterministic, network-free stand-in for an LLM (see module docstring)."""

    def __init__(self) -> None:
        self._ids = count(1)

    async def get_response(
        self,
        system_instructions: str | None,
        input: str | list[TResponseInputItem],
        model_settings: ModelSettings,
        tools: list[Tool],
        output_schema: AgentOutputSchemaBase | None,
        handoffs: list[Handoff],
        tracing: ModelTracing,
        *,
        previous_response_id: str | None,
        conversation_id: str | None,
        prompt: Any = None,
    ) -> ModelResponse:
        item = self._decide(system_instructions or "", input, tools, handoffs)
        return ModelResponse(output=[item], usage=Usage(requests=1), response_id=None)

    async def stream_response(
        self,
        system_instructions: str | None,
        input: str | list[TResponseInputItem],
        model_settings: ModelSettings,
        tools: list[Tool],
        output_schema: AgentOutputSchemaBase | None,
        handoffs: list[Handoff],
        tracing: ModelTracing,
        *,
        previous_response_id: str | None,
        conversation_id: str | None,
        prompt: Any = None,
    ) -> AsyncIterator[TResponseStreamEvent]:
        item = self._decide(system_instructions or "", input, tools, handoffs)
        seq = count()
        yield ResponseCreatedEvent(
            type="response.created", response=_response([], "in_progress"),
            sequence_number=next(seq),
        )
        if isinstance(item, ResponseOutputMessage):
            text = item.content[0].text  # type: ignore[union-attr]
            empty = item.model_copy(
                update={"status": "in_progress", "content": []}
            )
            yield ResponseOutputItemAddedEvent(
                type="response.output_item.added", item=empty, output_index=0,
                sequence_number=next(seq),
            )
            for piece in _pieces(text):
                yield ResponseTextDeltaEvent(
                    type="response.output_text.delta", item_id=item.id, output_index=0,
                    content_index=0, delta=piece, logprobs=[], sequence_number=next(seq),
                )
        yield ResponseOutputItemDoneEvent(
            type="response.output_item.done", item=item, output_index=0,
            sequence_number=next(seq),
        )
        yield ResponseCompletedEvent(
            type="response.completed", response=_response([item], "completed"),
            sequence_number=next(seq),
        )

    # -- the script -------------------------------------------------------------------
    def _decide(
        self,
        node_text: str,
        input: str | list[TResponseInputItem],
        tools: list[Tool],
        handoffs: list[Handoff],
    ) -> ResponseOutputMessage | ResponseFunctionToolCall:
        items: list[Any] = [{"role": "user", "content": input}] if isinstance(input, str) else input
        last = items[-1] if items else {}
        if isinstance(last, dict) and last.get("type") == "function_call_output":
            call = next(
                (i for i in reversed(items) if isinstance(i, dict)
                 and i.get("type") == "function_call" and i.get("call_id") == last.get("call_id")),
                {},
            )
            name = call.get("name", "")
            if any(h.tool_name == name for h in handoffs) or name.startswith("handoff_to_"):
                return self._say(node_text)
            return self._say(_BUILTIN_LINES.get(name) or _speakable_result(last.get("output")))
        utterance = _message_text(last) if isinstance(last, dict) else ""
        if utterance:
            choice = _best_match(utterance, tools, handoffs)
            if isinstance(choice, Handoff):
                return self._call(choice.tool_name, {})
            if choice is not None:
                schema = getattr(choice, "params_json_schema", {}) or {}
                return self._call(choice.name, _arguments_for(schema, utterance))
        return self._say(node_text)

    def _say(self, text: str) -> ResponseOutputMessage:
        return ResponseOutputMessage(
            id=f"msg_offline_{next(self._ids)}", type="message", role="assistant",
            status="completed",
            content=[
                ResponseOutputText(type="output_text", text=text, annotations=[], logprobs=[])
            ],
        )

    def _call(self, name: str, arguments: dict[str, Any]) -> ResponseFunctionToolCall:
        call_id = f"call_offline_{next(self._ids)}"
        return ResponseFunctionToolCall(
            id=call_id, call_id=call_id, type="function_call", name=name,
            arguments=json.dumps(arguments), status="completed",
        )


def _best_match(utterance: str, tools: list[Tool], handoffs: list[Handoff]) -> Any:
    """The handoff or tool ``utterance`` means, or ``None``. Handoffs win ties."""
    candidates: list[tuple[Any, Intent, float]] = [
        (h, intent_of(h.tool_description), 0) for h in handoffs
    ]
    for tool in tools:
        name = getattr(tool, "name", "")
        if name in _BUILTIN_INTENTS:
            candidates.append((tool, _BUILTIN_INTENTS[name], 0))
        elif name != "send_dtmf":
            schema = getattr(tool, "params_json_schema", {}) or {}
            bonus = _fills_codes(schema, utterance)
            candidates.append((tool, intent_of(getattr(tool, "description", "")), bonus))
    weight = weights(intent for _, intent, _ in candidates)
    best: tuple[float, Any] = (MIN_SCORE - 1e-9, None)
    for candidate, intent, bonus in candidates:
        total = score(intent, utterance, weight) + bonus
        if total > best[0]:
            best = (total, candidate)
    return best[1]


def _speakable_result(output: Any) -> str:
    text = output if isinstance(output, str) else json.dumps(output)
    if text.startswith("error:"):
        return "Sorry, I could not do that right now."
    try:
        data = json.loads(text)
    except (TypeError, ValueError):
        return text[:300]
    if isinstance(data, dict):
        return ". ".join(f"{k.replace('_', ' ')}: {v}" for k, v in data.items())[:300]
    return str(data)[:300]


def _pieces(text: str) -> Iterable[str]:
    words = text.split(" ")
    for i, word in enumerate(words):
        yield word if i == 0 else " " + word


def _response(output: list[Any], status: str) -> Response:
    return Response(
        id="resp_offline", created_at=0, model=OFFLINE_ENGINE, object="response",
        output=output, tool_choice="auto", tools=[], top_p=None, parallel_tool_calls=False,
        status=status,  # type: ignore[arg-type]
        usage=ResponseUsage(
            input_tokens=0, output_tokens=0, total_tokens=0,
            input_tokens_details=InputTokensDetails(cached_tokens=0, cache_write_tokens=0),
            output_tokens_details=OutputTokensDetails(reasoning_tokens=0),
        ) if status == "completed" else None,
    )
