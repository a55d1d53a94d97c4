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
from pipeline.events import CallEvent, CallEventSink, CallResult, EndReason
from pipeline.spec import CallSpec
from pipeline.teardown import release


class CallControl:
    """Lets the owner of a running call end it (hang-up from the API, shutdown drain), and
    keeps the first reason the call was given to end."""

    def __init__(self) -> None:
        self._built: BuiltCall | None = None
        self._reason: EndReason | None = None

    @property
    def end_reason(self) -> EndReason | None:
        return self._reason

    def attach(self, built: BuiltCall | None) -> None:
        """The running call this control acts on (set by ``run_call``; None once it ended)."""
        self._built = built

    def ending(self, reason: EndReason) -> None:
        """Record why the call ends, unless an earlier reason was recorded."""
        if self._reason is None:
            self._reason = reason

    async def hang_up(self, reason: EndReason = EndReason.ENDED_BY_API) -> None:
        self.ending(reason)
        if self._built is not None:
            await self._built.worker.cancel(reason=reason)

    async def say_goodbye(self, text: str, reason: EndReason) -> None:
        """Speak ``text``, then end the call (it ends once the words were played; the caller
        may still hang up first). Before the pipeline is built only the reason is recorded:
        the caller of this hangs up what still runs later (``server.calls.drain``)."""
        self.ending(reason)
        if self._built is None:
            return
        await self._built.agent.say_goodbye(text, reason)


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
    control.attach(built)
    worker = built.worker
    error: str | None = None

    try:

        @transport.event_handler("on_client_disconnected")
        async def _on_disconnected(_transport, _client) -> None:
            await control.hang_up(EndReason.CALLER_HANGUP)

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
        control.ending(EndReason.IDLE_TIMEOUT)

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
                await control.hang_up(EndReason.MAX_DURATION)
        else:
            await runner.run()
        current = asyncio.current_task()
        if current is not None and current.cancelling():  # the runner absorbed our cancel
            control.ending(EndReason.CANCELED)
    except asyncio.CancelledError:
        control.ending(EndReason.CANCELED)
        await runner.cancel(reason=EndReason.CANCELED)
        raise
    except Exception as exc:
        logger.exception(f"call {spec.call_id}: pipeline failed")
        error = f"{type(exc).__name__}: {exc}"
        control.ending(EndReason.ERROR)
    finally:
        built.transcript.close()
        if built.recorder is not None:
            await asyncio.to_thread(built.recorder.close)
        usage = built.usage.records()
        sink.usage(usage)
        end_reason = control.end_reason or EndReason.of(built.agent.end_reason, EndReason.COMPLETED)
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
        control.attach(None)
        if not any(not t.done() for t in runner.task_manager.current_tasks()):
            release([runner, built.worker, built.pipeline, built.observer])  # see teardown
    return result
