"""The offline scripted engine: an openai-agents ``Model`` that is NOT a language model.

It lets the server run whole calls with no network and no API key. Labelled
``offline-scripted`` everywhere (session info, usage records) so it is never passed off as an
LLM. Behaviour, fully deterministic:

* After the caller speaks, it compares the caller's words with each handoff's description
  (the edge condition) and each tool's description; the best match (at least one shared
  content word, or a quoted phrase in the condition said verbatim) is called. Handoffs win ties.
* Otherwise — and right after a handoff — it speaks the node's text, which the compiled agent
  passes as its instructions (``say`` or the node prompt, templated).
* After a tool ran it speaks the tool's result (``end_call``/``transfer_call``: a short line).
"""

from __future__ import annotations

import json
import re
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

OFFLINE_ENGINE = "offline-scripted"

_STOPWORDS = frozenset(
    """a an the and or but if of to in on at for with about from by is are was were be been
    am do does did has have had i me my you your we our they them it its this that these those
    caller user customer person wants want wanting asks ask asking says say said mentions
    mention would like could should can will please just some any there their then than
    when what which who whom how why where so not no yes agent call""".split()  # noqa: SIM905
)
_BUILTIN_TRIGGERS = {
    "end_call": {"bye", "goodbye", "hang"},
    "transfer_call": {"human", "operator", "representative", "transfer", "someone"},
    "opt_out": {"stop", "unsubscribe", "remove"},
}
_BUILTIN_LINES = {"end_call": "Goodbye.", "transfer_call": "Transferring you now.",
                  "opt_out": "Understood, we will not call you again."}
_WORD_RE = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_QUOTED_RE = re.compile(r"[\"“']([^\"”']{2,})[\"”']")
_NUMBER_RE = re.compile(r"\d[\d\-]*")


def _stem(word: str) -> str:
    word = word.removesuffix("'s")
    for suffix in ("ing", "ed", "es", "s"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def content_words(text: str) -> set[str]:
    return {_stem(w) for w in _WORD_RE.findall(text.lower()) if w not in _STOPWORDS}


def match_score(condition: str, utterance: str) -> int:
    """How well ``utterance`` matches ``condition`` (0 = no match)."""
    said = utterance.lower()
    quoted = _QUOTED_RE.findall(condition)
    if quoted:  # explicit phrases: only those count
        return sum(10 for phrase in quoted if phrase.lower() in said)
    return len(content_words(condition) & content_words(utterance))


def _message_text(item: Any) -> str:
    content = item.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


def _arguments_for(schema: dict[str, Any], utterance: str) -> dict[str, Any]:
    args: dict[str, Any] = {}
    numbers = _NUMBER_RE.findall(utterance)
    for name, prop in (schema.get("properties") or {}).items():
        kind = prop.get("type") if isinstance(prop, dict) else None
        if kind in ("integer", "number") and numbers:
            digits = numbers[0].replace("-", "")
            args[name] = int(digits) if kind == "integer" else float(digits)
        elif kind == "boolean":
            args[name] = True
        elif kind == "string":
            wants_code = any(k in name for k in ("id", "number", "code", "digits"))
            args[name] = numbers[0] if wants_code and numbers else utterance
    return args


def _fills_codes(schema: dict[str, Any], utterance: str) -> int:
    """1 when the caller said a number and the tool wants an id/number-like argument."""
    if not _NUMBER_RE.search(utterance):
        return 0
    for name, prop in (schema.get("properties") or {}).items():
        kind = prop.get("type") if isinstance(prop, dict) else None
        if kind in ("integer", "number") or any(
            k in name for k in ("id", "number", "code", "digits")
        ):
            return 1
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
            best: tuple[int, Any] = (0, None)
            for handoff in handoffs:
                score = match_score(handoff.tool_description, utterance)
                if score > best[0]:
                    best = (score, handoff)
            for tool in tools:
                name = getattr(tool, "name", "")
                if name in _BUILTIN_TRIGGERS:
                    score = len(_BUILTIN_TRIGGERS[name] & content_words(utterance))
                elif name == "send_dtmf":
                    continue
                else:
                    score = match_score(getattr(tool, "description", ""), utterance)
                    schema = getattr(tool, "params_json_schema", {}) or {}
                    score += _fills_codes(schema, utterance)
                if score > best[0]:
                    best = (score, tool)
            if isinstance(best[1], Handoff):
                return self._call(best[1].tool_name, {})
            if best[1] is not None:
                schema = getattr(best[1], "params_json_schema", {}) or {}
                return self._call(best[1].name, _arguments_for(schema, utterance))
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
