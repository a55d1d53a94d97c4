"""Agent sessions: one conversation with a workflow, implementing ``runtime.contract``.

Each user turn runs ``Runner.run_streamed`` from the current node with the conversation so
far. Text deltas are passed through the speakable filter and yielded as they arrive; handoffs
move the active node; tool outputs become ``ToolCalled`` (and ``TransferCall``/``SendDtmf``);
``EndCall`` comes last when the agent ended the call or reached an end node.

Cancelling the task that consumes ``respond`` stops the run at once. History then holds the
user's words and only the reply text already emitted; ``interrupted(spoken)`` trims that to
what was actually spoken. The node does not change on a cancelled run.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any

from agents import InputGuardrailTripwireTriggered, RunConfig, Runner

from runtime import agent_identity, tracing
from runtime.compile import CompiledWorkflow, compile_cache, handoff_tool_name
from runtime.contract import (
    AgentEvent,
    EndCall,
    HandedOff,
    ModelUsage,
    SendDtmf,
    SessionInfo,
    TextDelta,
    ToolCalled,
    ToolStarted,
    TransferCall,
)
from runtime.egress import EgressPolicy
from runtime.guardrails import (
    DEFAULT_MAX_REPLY_CHARS,
    InputCheck,
    SpeakableFilter,
    combine_checks,
    input_guardrail,
    phrase_check,
)
from runtime.models import ModelConfig, model_settings, shared_model
from runtime.tools import CallContext
from runtime.validation import parse_workflow
from runtime.workflow import input_values, render

agent_identity.install()  # no per-turn signature of every agent (runtime/agent_identity.py)

log = logging.getLogger(__name__)

MAX_MODEL_TURNS = 8  # model calls per user turn (tool loops, handoffs)
FALLBACK_REPLY = "Sorry, I'm having trouble right now. Could you say that again?"
def create_session(
    definition: dict[str, Any],
    *,
    variables: dict[str, str],
    model: ModelConfig,
    workflow_id: str | None = None,
    version: int | None = None,
    secrets: dict[str, str] | None = None,
    input_check: InputCheck | None = None,
    max_reply_chars: int = DEFAULT_MAX_REPLY_CHARS,
    egress: EgressPolicy | None = None,
    language: str | None = None,
) -> WorkflowSession:
    """Start a conversation with a workflow (raises ``WorkflowInvalid`` for a bad definition).

    ``secrets`` fill ``{{secret.NAME}}`` in HTTP tool headers; ``input_check`` is the
    organization's input guardrail (return a reply to refuse a turn, None to allow it);
    ``egress`` is the policy HTTP tools connect through (default: non-public refused);
    ``language`` is the call's (default: the workflow's): the model is told to answer in it.
    """
    compiled = compile_cache.lookup(workflow_id, version)
    if compiled is None:
        compiled = compile_cache.store(parse_workflow(definition), workflow_id, version)
    ctx = CallContext(
        variables=input_values(compiled.workflow, variables),
        engine=model.engine,
        secrets=dict(secrets or {}),
        egress=egress or EgressPolicy(),
        language=language,
    )
    settings = compiled.workflow.settings.guardrails
    input_check = combine_checks(
        phrase_check(settings.blocked_phrases, settings.refusal), input_check
    )
    run_config = RunConfig(
        model=shared_model(model),
        model_settings=model_settings(model),
        tracing_disabled=not tracing.enabled(),  # spans to OpenTelemetry only (runtime/tracing)
        trace_include_sensitive_data=False,  # names, models and errors; never the words
        input_guardrails=[input_guardrail(input_check)] if input_check else None,
        workflow_name="switchboard",
    )
    info = SessionInfo(engine=model.engine, model=model.model, workflow_id=workflow_id,
                       workflow_version=version)
    return WorkflowSession(compiled, ctx, run_config, info, max_reply_chars)


class WorkflowSession:
    """An ``AgentSession`` over a compiled workflow. Not shared between calls."""

    def __init__(self, compiled: CompiledWorkflow, ctx: CallContext, run_config: RunConfig,
                 info: SessionInfo, max_reply_chars: int):
        self.info = info
        self._compiled = compiled
        self._ctx = ctx
        self._run_config = run_config
        self._max_reply_chars = max_reply_chars
        self._node = compiled.workflow.start.id
        self._items: list[Any] = []
        self._reply_index: int | None = None  # history index of the last reply
        self._greeted = False
        self._active: _ActiveRun | None = None

    @property
    def current_node(self) -> str:
        return self._node

    @property
    def ended(self) -> bool:
        return self._ctx.end_requested

    @property
    def interruptible(self) -> bool:
        """Whether the caller may barge in: the current node's setting, and never once the
        call is ending (an end node or ``end_call``: the goodbye is heard in full, the call
        ends after it either way)."""
        if self._ctx.end_requested:
            return False
        return self._compiled.workflow.node(self._node).interruptible

    def greeting(self) -> str | None:
        text = self._compiled.workflow.start.greeting
        if not text:
            return None
        spoken = render(text, self._ctx.variables)
        if not self._greeted:
            self._greeted = True
            self._add_reply(spoken)
        return spoken

    async def respond(self, user_text: str) -> AsyncIterator[AgentEvent]:
        self._settle_active()
        base = [*self._items, {"role": "user", "content": user_text}]
        self._items = base
        self._reply_index = None
        node = self._node
        filt = SpeakableFilter(self._max_reply_chars)
        spoken: list[str] = []
        text_item: str | None = None
        seen_dtmf = len(self._ctx.dtmf)
        result = Runner.run_streamed(
            self._compiled.agent(node), input=base, context=self._ctx,
            run_config=self._run_config, max_turns=MAX_MODEL_TURNS,
        )
        run = _ActiveRun(result, base, spoken)
        self._active = run
        try:
            async with aclosing(result.stream_events()) as events:
                async for event in events:
                    if event.type == "raw_response_event":
                        data = event.data
                        if getattr(data, "type", "") != "response.output_text.delta":
                            continue
                        piece = data.delta
                        if text_item is not None and data.item_id != text_item and spoken:
                            piece = " " + piece  # a new message after a tool call
                        text_item = data.item_id
                        if out := filt.feed(piece):
                            spoken.append(out)
                            yield TextDelta(out)
                    elif event.type == "agent_updated_stream_event":
                        new_node = event.new_agent.name
                        if new_node == node:
                            continue
                        yield HandedOff(node, new_node)
                        edge = self._compiled.edges.get(f"{node}>{handoff_tool_name(new_node)}")
                        node = new_node
                        if edge is not None and edge.say:
                            said = render(edge.say, self._ctx.variables)
                            out = filt.feed(("" if not spoken else " ") + said + " ")
                            if out:
                                spoken.append(out)
                                yield TextDelta(out)
                    elif event.type == "run_item_stream_event" and event.name == "tool_called":
                        yield ToolStarted(_tool_name(event.item))
                    elif event.type == "run_item_stream_event" and event.name == "tool_output":
                        for ev in self._tool_events(event.item, seen_dtmf):
                            yield ev
                        seen_dtmf = len(self._ctx.dtmf)
            if out := filt.flush():
                spoken.append(out)
                yield TextDelta(out)
            self._active = None  # completed: the result below replaces the partial state
        except InputGuardrailTripwireTriggered as exc:
            refusal = str(exc.guardrail_result.output.output_info or "")
            self._finish_failed(run, refusal)
            yield TextDelta(refusal)
            return
        except Exception:
            log.exception("agent run failed", extra={"engine": self.info.engine})
            self.info.extra["last_error"] = "model_run_failed"
            self._finish_failed(run, FALLBACK_REPLY)
            yield TextDelta(FALLBACK_REPLY)
            return
        finally:
            # Cancelled (barge-in) or the consumer stopped early: keep what was emitted.
            if self._active is run:
                self._settle_active()
        self._node = node
        self._items = [*base, *self._run_tool_items(result, len(base))]
        self._add_reply("".join(spoken))
        usage = result.context_wrapper.usage
        yield ModelUsage(self.info.engine, self.info.model, usage.input_tokens,
                         usage.output_tokens)
        if self._ctx.end_requested or self._compiled.workflow.node(node).type == "end":
            self._ctx.end_requested = True
            yield EndCall("agent_ended")

    def interrupted(self, spoken_text: str) -> None:
        # The consumer may have been cancelled between events, leaving the run suspended.
        self._settle_active()
        if self._reply_index is None:
            return
        if spoken_text.strip():
            self._items[self._reply_index] = {"role": "assistant", "content": spoken_text}
        else:
            del self._items[self._reply_index]
            self._reply_index = None

    def history(self) -> list[dict[str, Any]]:
        names: dict[str, str] = {}
        out: list[dict[str, Any]] = []
        for item in self._items:
            kind = item.get("type")
            if kind == "function_call":
                names[item["call_id"]] = item["name"]
                if not item["name"].startswith("handoff_to_"):
                    out.append({"role": "tool_call", "name": item["name"],
                                "content": item.get("arguments", "")})
            elif kind == "function_call_output":
                name = names.get(item["call_id"], "")
                if not name.startswith("handoff_to_"):
                    out.append({"role": "tool", "name": name, "content": str(item["output"])})
            elif item.get("role") in ("user", "assistant"):
                out.append({"role": item["role"], "content": _text(item.get("content"))})
        return out

    def snapshot(self) -> dict[str, Any]:
        """The conversation's state as JSON-able data: ``restore`` continues it in a new
        session over the same workflow (another process, a later request)."""
        self._settle_active()
        return {"node": self._node, "items": self._items, "reply_index": self._reply_index,
                "greeted": self._greeted, "ended": self._ctx.end_requested}

    def restore(self, state: dict[str, Any]) -> None:
        """Continue the conversation ``snapshot`` saved (a node the workflow no longer has
        falls back to its start)."""
        node = str(state.get("node") or "")
        known = {n.id for n in self._compiled.workflow.nodes}
        self._node = node if node in known else self._compiled.workflow.start.id
        self._items = [i for i in state.get("items") or [] if isinstance(i, dict)]
        index = state.get("reply_index")
        self._reply_index = index if isinstance(index, int) and 0 <= index < len(self._items) else None
        self._greeted = bool(state.get("greeted"))
        self._ctx.end_requested = bool(state.get("ended"))

    # -- internals --------------------------------------------------------------------
    def _settle_active(self) -> None:
        """Stop an unfinished run: history keeps the user turn and the text emitted so far."""
        run, self._active = self._active, None
        if run is None:
            return
        run.result.cancel()
        self._items = run.base
        self._add_reply("".join(run.spoken))

    def _finish_failed(self, run: _ActiveRun, reply: str) -> None:
        run.result.cancel()
        self._active = None
        self._items = run.base
        self._add_reply(reply)

    def _add_reply(self, text: str) -> None:
        if text.strip():
            self._items.append({"role": "assistant", "content": text})
            self._reply_index = len(self._items) - 1
        else:
            self._reply_index = None

    def _tool_events(self, item: Any, seen_dtmf: int) -> list[AgentEvent]:
        raw = item.raw_item
        call_id = raw.get("call_id") if isinstance(raw, dict) else getattr(raw, "call_id", None)
        record = self._ctx.tool_records.pop(call_id or "", None)
        if record is None:  # a handoff's own output
            return []
        events: list[AgentEvent] = [
            ToolCalled(record.name, record.arguments, record.result, record.error)
        ]
        if record.name == "transfer_call" and self._ctx.transfer_to:
            events.append(TransferCall(self._ctx.transfer_to))
        events += [SendDtmf(d) for d in self._ctx.dtmf[seen_dtmf:]]
        return events

    @staticmethod
    def _run_tool_items(result: Any, skip: int) -> list[Any]:
        """The run's tool calls and outputs (its text is stored as spoken, separately).

        Server item ids are dropped: the history is replayed as plain input, and reasoning
        items (not kept) must not be expected by the provider for these calls.
        """
        return [
            {k: v for k, v in item.items() if k != "id"}
            for item in result.to_input_list()[skip:]
            if isinstance(item, dict) and item.get("type") in ("function_call",
                                                               "function_call_output")
        ]


@dataclass(slots=True)
class _ActiveRun:
    result: Any  # RunResultStreaming
    base: list[Any]  # history up to and including this turn's user message
    spoken: list[str]  # reply text emitted so far


def _tool_name(item: Any) -> str:
    raw = item.raw_item
    return str(raw.get("name", "") if isinstance(raw, dict) else getattr(raw, "name", ""))


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""
