"""Tracing set-up: no exporter unless an OTLP endpoint is set, trace ids in logs, and the
openai-agents bridge (agent runs and tool calls as OpenTelemetry spans, none to OpenAI)."""

from __future__ import annotations

from pathlib import Path

import agents
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from runtime import tracing as runtime_tracing
from runtime.tracing import OtelBridge
from server.log_config import add_trace_ids
from server.settings import Settings
from server.tracing import build_provider, configure_tracing


def _settings(tmp_path: Path, **values: object) -> Settings:
    return Settings(_env_file=None, data_dir=tmp_path, **values)  # type: ignore[call-arg]


def test_without_an_endpoint_nothing_is_configured(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    assert settings.otel_exporter_otlp_endpoint is None
    assert build_provider(settings) is None
    assert configure_tracing(settings) is False
    assert runtime_tracing.enabled() is False


def test_an_endpoint_exports_over_otlp_http(tmp_path: Path) -> None:
    settings = _settings(tmp_path, otel_exporter_otlp_endpoint="http://collector:4318/",
                         otel_service_name="sb-test")  # fmt: skip
    provider = build_provider(settings)
    assert provider is not None
    try:
        assert provider.resource.attributes["service.name"] == "sb-test"
        processors = provider._active_span_processor._span_processors
        exporters = [p.span_exporter for p in processors]
        assert [type(e) for e in exporters] == [OTLPSpanExporter]
        assert exporters[0]._endpoint == "http://collector:4318/v1/traces"
    finally:
        provider.shutdown()


def test_logs_carry_the_current_trace_and_span_ids() -> None:
    tracer = TracerProvider().get_tracer("test")
    assert add_trace_ids(None, "info", {"event": "x"}) == {"event": "x"}
    with tracer.start_as_current_span("call") as span:
        event = add_trace_ids(None, "info", {"event": "call_started"})
    context = span.get_span_context()
    assert event["trace_id"] == format(context.trace_id, "032x")
    assert event["span_id"] == format(context.span_id, "016x")


def test_agent_runs_and_tools_become_otel_spans_under_the_current_span() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    agents.set_trace_processors([OtelBridge(tracer)])
    agents.set_tracing_disabled(False)
    try:
        with (
            tracer.start_as_current_span("turn"),
            agents.trace("switchboard"),
            agents.agent_span("greeter"),
            agents.function_span("lookup_booking"),
        ):
            pass
    finally:
        agents.set_tracing_disabled(True)
        agents.set_trace_processors([])
    spans = {s.name: s for s in exporter.get_finished_spans()}
    assert set(spans) == {"turn", "llm", "agent", "tool"}
    assert spans["llm"].parent.span_id == spans["turn"].context.span_id
    assert spans["agent"].parent.span_id == spans["llm"].context.span_id
    assert spans["tool"].parent.span_id == spans["agent"].context.span_id
    assert spans["tool"].attributes["tool.name"] == "lookup_booking"
    assert spans["agent"].attributes["agent.name"] == "greeter"
    assert len({s.context.trace_id for s in spans.values()}) == 1
