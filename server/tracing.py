"""OpenTelemetry tracing: the exporter from settings and the call's span (trace ids in logs:
``server/log_config.add_trace_ids``).

With ``OTEL_EXPORTER_OTLP_ENDPOINT`` set, spans are exported over OTLP/HTTP
(``<endpoint>/v1/traces``; headers from ``OTEL_EXPORTER_OTLP_HEADERS``) and every call is
traced: a ``call`` span, pipecat's ``conversation`` → ``turn`` spans with its ``stt`` and
``tts`` spans, and the agent run's ``llm`` span with ``tool`` children (``runtime/tracing``).
Unset, no provider or exporter is configured and calls carry no tracing work at all.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

from opentelemetry import trace

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

    from server.settings import Settings

# The SDK, the exporter and runtime.tracing (which imports openai-agents) load only when
# tracing is configured or a call runs: CLI commands stay light.
_installed: TracerProvider | None = None


def otlp_traces_url(endpoint: str) -> str:
    """The OTLP/HTTP traces URL of a collector's base endpoint (as the SDK derives it)."""
    return endpoint.rstrip("/") + "/v1/traces"


def build_provider(settings: Settings) -> TracerProvider | None:
    """A tracer provider exporting to the configured OTLP endpoint; None when unset."""
    endpoint = settings.otel_exporter_otlp_endpoint
    if not endpoint:
        return None
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": settings.otel_service_name}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=otlp_traces_url(endpoint))))
    return provider


def configure_tracing(settings: Settings) -> bool:
    """Install the exporter once per process and turn call tracing on; False when unset."""
    from runtime import tracing as runtime_tracing

    global _installed
    if _installed is None:
        provider = build_provider(settings)
        if provider is None:
            return False
        trace.set_tracer_provider(provider)
        _installed = provider
    runtime_tracing.set_enabled(True)
    return True


def shutdown_tracing() -> None:
    """Export what is buffered (at process exit)."""
    if _installed is not None:
        _installed.force_flush(timeout_millis=5000)


def trace_id_hex(span: trace.Span) -> str | None:
    context = span.get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None


@contextlib.contextmanager
def call_span(call_id: str, organization_id: str, channel: str) -> Iterator[trace.Span]:
    """The call's root span, current for the whole pipeline (its tasks inherit it); a
    non-recording span (no trace id) when tracing is off."""
    from runtime import tracing as runtime_tracing

    if not runtime_tracing.enabled():
        yield trace.INVALID_SPAN
        return
    span = runtime_tracing.tracer().start_span(
        "call", attributes={"call.id": call_id, "organization.id": organization_id,
                            "call.channel": channel},
    )  # fmt: skip
    with trace.use_span(span, end_on_exit=True, record_exception=True):
        yield span
