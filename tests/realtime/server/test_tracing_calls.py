"""A traced browser call: the call span holds pipecat's conversation and turn spans, with
the STT, TTS and agent (LLM) spans of each turn under them; the call row keeps the trace id.

The SDK's in-memory exporter stands in for the OTLP collector (``server/tracing.py`` puts
an OTLP exporter on the same provider when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from uuid import UUID

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from loadgen.callers.webrtc import speech_pcm
from runtime import tracing as runtime_tracing
from tests.realtime.pipeline.test_pipeline_call import ASK, WORKFLOW
from tests.realtime.server.test_webrtc_calls import connect, publish_workflow, wait_for_end


@pytest.fixture
def exported() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):  # once per process (the API allows one)
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    processor = SimpleSpanProcessor(exporter)
    provider.add_span_processor(processor)
    runtime_tracing.set_enabled(True)
    try:
        yield exporter
    finally:
        runtime_tracing.set_enabled(False)
        processor.shutdown()  # the exporter stops taking spans


def _chain(span: ReadableSpan, by_id: dict[int, ReadableSpan]) -> list[str]:
    names = []
    while span.parent is not None:
        span = by_id[span.parent.span_id]
        names.append(span.name)
    return names


async def test_a_browser_call_is_traced_per_turn_and_service(
    client,
    make_user,
    server,  # type: ignore[no-untyped-def]
    exported: InMemorySpanExporter,
) -> None:
    speech_pcm(ASK)
    user = await make_user()
    workflow_id = await publish_workflow(client, user.headers, WORKFLOW)
    caller, call_id = await connect(client, user.headers, workflow_id)
    try:
        await caller.wait_for_speech(frames=25, timeout=60)  # the greeting
        await caller.wait_for_silence(frames=40)
        mark = len(caller.levels)
        await caller.say(ASK)
        await caller.wait_for_speech(start=mark, frames=25, timeout=60)  # the answer
        await caller.wait_for_silence(frames=40)
    finally:
        await caller.close()
    call = await wait_for_end(client, user.headers, call_id)
    assert call["status"] == "completed"

    async with asyncio.timeout(30):  # the call span ends once the call is finalized
        while not any(
            s.name == "call" and s.attributes.get("call.id") == call_id for s in exported.get_finished_spans()
        ):
            await asyncio.sleep(0.05)
    row_trace_id = await server.services.db.fetchval(
        "SELECT trace_id FROM calls WHERE id = $1", UUID(call_id)
    )
    assert row_trace_id is not None and len(row_trace_id) == 32
    shown = await client.get(f"/api/v1/calls/{call_id}", headers=user.headers)
    assert shown.json()["trace_id"] == row_trace_id  # the API shows it, for the trace viewer

    spans = [s for s in exported.get_finished_spans() if format(s.context.trace_id, "032x") == row_trace_id]
    by_id = {s.context.span_id: s for s in spans}
    names = [s.name for s in spans]
    (root,) = [s for s in spans if s.parent is None]
    assert root.name == "call" and root.attributes["call.channel"] == "webrtc"
    assert root.attributes["call.status"] == "completed"
    assert names.count("conversation") == 1
    assert names.count("turn") >= 2, names  # the greeting and the answer
    for name in ("stt", "tts", "llm"):
        assert name in names, names
    # Every service span sits under a turn, under the conversation, under the call.
    for span in spans:
        if span.name in ("stt", "tts", "llm"):
            assert _chain(span, by_id)[-3:] == ["turn", "conversation", "call"], span.name
    # Spans per turn and service call, never per frame (the call carried hundreds of frames).
    assert len(spans) < 12 * names.count("turn"), sorted(names)
    (conversation,) = [s for s in spans if s.name == "conversation"]
    assert conversation.attributes["conversation.id"] == call_id
    assert all(s.attributes["turn.number"] >= 1 for s in spans if s.name == "turn")
