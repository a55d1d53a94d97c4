"""Tracing switch for the process, and the openai-agents → OpenTelemetry bridge.

Tracing is off unless the server turns it on (``server/tracing.py``: an OTLP endpoint is
set). When on, openai-agents reports its runs through ``OtelBridge`` only — its default
processor, which exports to api.openai.com, is replaced — so an agent run becomes an
``llm`` span with ``agent``, ``llm.generation``/``llm.response``, ``tool`` and other
``agent.*`` children under
whatever OpenTelemetry span is current when the run starts (the call's turn). Spans carry
names, models and errors, never the conversation's text.
"""

from __future__ import annotations

import threading
from typing import Any

import agents
from agents.tracing import TracingProcessor
from agents.tracing.spans import Span as AgentSpan
from agents.tracing.traces import Trace as AgentTrace
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Span, Status, StatusCode

_enabled = False
TRACER_NAME = "switchboard"
# agents span type → our span name; others are "agent.<type>" (turn, handoff, guardrail, ...)
# so they never read as pipecat's call turns.
_SPAN_NAMES = {
    "function": "tool",
    "generation": "llm.generation",
    "response": "llm.response",
    "agent": "agent",
}


def enabled() -> bool:
    """Whether calls are traced (spans exported) in this process."""
    return _enabled


def set_enabled(on: bool) -> None:
    """Turn tracing on or off for the calls started from now on (and agent runs)."""
    global _enabled
    _enabled = on
    if on:
        agents.set_trace_processors([OtelBridge()])  # never the OpenAI exporter
    agents.set_tracing_disabled(not on)


def tracer() -> trace.Tracer:
    return trace.get_tracer(TRACER_NAME)


class OtelBridge(TracingProcessor):
    """openai-agents traces and spans as OpenTelemetry spans (called synchronously by the
    SDK where each starts and ends; must not block)."""

    def __init__(self, otel_tracer: trace.Tracer | None = None) -> None:
        self._tracer = otel_tracer
        self._spans: dict[str, Span] = {}
        self._lock = threading.Lock()

    def _start(self, name: str, context: otel_context.Context | None) -> Span:
        return (self._tracer or tracer()).start_span(name, context=context)

    def on_trace_start(self, trace_: AgentTrace) -> None:
        span = self._start("llm", otel_context.get_current())
        span.set_attribute("llm.workflow", trace_.name)
        with self._lock:
            self._spans[trace_.trace_id] = span

    def on_trace_end(self, trace_: AgentTrace) -> None:
        with self._lock:
            span = self._spans.pop(trace_.trace_id, None)
        if span is not None:
            span.end()

    def on_span_start(self, span: AgentSpan[Any]) -> None:
        data = span.span_data
        with self._lock:
            parent = self._spans.get(span.parent_id or "") or self._spans.get(span.trace_id)
        context = trace.set_span_in_context(parent) if parent is not None else None
        otel = self._start(_SPAN_NAMES.get(data.type, f"agent.{data.type}"), context)
        name = getattr(data, "name", None)
        if name:
            otel.set_attribute("tool.name" if data.type == "function" else "agent.name", name)
        model = getattr(data, "model", None)
        if isinstance(model, str):
            otel.set_attribute("gen_ai.request.model", model)
        with self._lock:
            self._spans[span.span_id] = otel

    def on_span_end(self, span: AgentSpan[Any]) -> None:
        with self._lock:
            otel = self._spans.pop(span.span_id, None)
        if otel is None:
            return
        usage = getattr(span.span_data, "usage", None)
        if isinstance(usage, dict):
            for key in ("input_tokens", "output_tokens"):
                if isinstance(usage.get(key), int):
                    otel.set_attribute(f"gen_ai.usage.{key}", usage[key])
        if span.error:
            otel.set_status(Status(StatusCode.ERROR, str(span.error.get("message", ""))[:200]))
        otel.end()

    def shutdown(self) -> None:
        with self._lock:
            spans, self._spans = list(self._spans.values()), {}
        for span in spans:
            span.end()

    def force_flush(self) -> None:
        return None
