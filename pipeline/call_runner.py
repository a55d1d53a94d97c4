"""Runs one call's pipeline to the end and reports how it ended."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from loguru import logger
from pipecat.frames.frames import ErrorFrame
from pipecat.transports.base_transport import BaseTransport
from pipecat.workers.runner import WorkerRunner

from pipeline import turn_models
from pipeline.builder import BuiltCall, build_call
from pipeline.events import CallEvent, CallEventSink, CallResult
from pipeline.spec import CallSpec


class CallControl:
    """Lets the owner of a running call end it (hang-up from the API, shutdown drain)."""

    def __init__(self) -> None:
        self._built: BuiltCall | None = None
        self._reason: str | None = None

    @property
    def end_reason(self) -> str | None:
        return self._reason

    async def hang_up(self, reason: str = "ended_by_api") -> None:
        self._reason = self._reason or reason
        if self._built is not None:
            await self._built.worker.cancel(reason=reason)


async def run_call(
    spec: CallSpec,
    transport: BaseTransport,
    sink: CallEventSink,
    *,
    control: CallControl | None = None,
) -> CallResult:
    """Build the call's pipeline on ``transport``, run it until it ends, report the result.

    Turns, usage and events go to ``sink`` as they happen; ``sink.ended`` gets the
    ``CallResult`` (also returned). The transport's ``on_client_disconnected`` ends the call
    as a caller hang-up.
    """
    control = control or CallControl()
    started_at = datetime.now(UTC)
    if not turn_models.loaded():  # first call of the process: load ONNX models off the loop
        await asyncio.to_thread(turn_models.preload)
    built = build_call(spec, transport, sink)
    control._built = built
    worker = built.worker
    error: str | None = None

    async def hang_up(reason: str) -> None:
        control._reason = control._reason or reason
        await worker.cancel(reason=reason)

    try:

        @transport.event_handler("on_client_disconnected")
        async def _on_disconnected(_transport, _client) -> None:
            await hang_up("caller_hangup")

    except Exception:  # a transport without that event: the caller side ends it some other way
        logger.debug(f"{transport}: no on_client_disconnected event")
    try:

        @transport.event_handler("on_client_connected")
        async def _on_connected(_transport, _client) -> None:
            await built.agent.client_connected()

        built.agent.wait_for_client = True
    except Exception:  # no such event: greet as soon as the pipeline starts
        logger.debug(f"{transport}: no on_client_connected event")

    @worker.event_handler("on_idle_timeout")
    async def _on_idle(_worker) -> None:
        control._reason = control._reason or "idle_timeout"

    @worker.event_handler("on_pipeline_error")
    async def _on_error(_worker, frame: ErrorFrame) -> None:
        sink.event(
            CallEvent(
                kind="error",
                at=datetime.now(UTC),
                data={"error": str(frame.error), "fatal": bool(getattr(frame, "fatal", False))},
            )
        )

    runner = WorkerRunner(handle_sigint=False, check_dangling_tasks=False)
    await runner.add_workers(worker)
    try:
        if spec.max_duration_secs:
            try:
                async with asyncio.timeout(spec.max_duration_secs):
                    await runner.run()
            except TimeoutError:
                control._reason = control._reason or "max_duration"
                await worker.cancel(reason="max_duration")
        else:
            await runner.run()
        current = asyncio.current_task()
        if current is not None and current.cancelling():  # the runner absorbed our cancel
            control._reason = control._reason or "cancelled"
    except asyncio.CancelledError:
        control._reason = control._reason or "cancelled"
        await runner.cancel(reason="cancelled")
        raise
    except Exception as exc:
        logger.exception(f"call {spec.call_id}: pipeline failed")
        error = f"{type(exc).__name__}: {exc}"
        control._reason = "error"
    finally:
        built.transcript.close()
        if built.recorder is not None:
            await asyncio.to_thread(built.recorder.close)
        usage = built.usage.records()
        sink.usage(usage)
        end_reason = control._reason or built.agent.end_reason or "completed"
        result = CallResult(
            end_reason=end_reason,
            started_at=started_at,
            ended_at=datetime.now(UTC),
            turns=built.transcript.count,
            usage=usage,
            recording_path=str(built.recorder.path) if built.recorder else None,
            error=error,
        )
        sink.ended(result)
    return result
