"""pipecat's push and process steps without the per-frame work a call never uses.

Every frame a pipecat processor pushes goes through ``FrameProcessor.push_frame`` and its
private ``__internal_push_frame``; every frame it processes through ``__process_frame`` and
the base ``process_frame``. In pipecat 1.14 each of them, for every 20 ms audio frame at
every processor it passes:

- awaits ``_call_event_handler`` before and after (a coroutine each, ~0.5 µs), although no
  processor of a call registers a ``on_before/after_push/process_frame`` handler;
- builds the f-string of ``logger.trace(f"Pushing {frame} downstream from {self} to ...")``
  (~2.4 µs: three ``__str__`` calls) with loguru at WARNING, where the line is dropped
  after it is built (``server/log_config.py`` never sets pipecat below DEBUG);
- builds a ``FramePushed`` / ``FrameProcessed`` record (~0.8 µs) and awaits the observer
  with it, which ``CallWorkerObserver`` then drops: caller audio (no call observer reads
  it) and every processed frame (no call observer implements ``on_process_frame``).

``install`` replaces those four functions on ``FrameProcessor`` with the same steps minus
that work: a hook is awaited only when a handler is registered for it, no trace line is
built, and an observer that is a ``SelectiveObserver`` is asked first whether it wants the
frame. Everything else (the neighbour's ``queue_frame``, the callback, ``push_error`` on an
exception with pipecat's messages, the StartFrame/Interruption/Cancel/Pause/Resume
handling) is pipecat's own, calling its private methods.

The replacements are written against pipecat's source of those four functions:
``install`` hashes that source and leaves pipecat's functions in place (with a warning)
when it differs, so a pipecat upgrade never runs these copies over code they were not
written for; ``tests/unit/pipeline/test_frame_plumbing.py`` fails until they are checked
against the new source and the digests in ``REPLACEMENTS`` are updated.
"""

from __future__ import annotations

import hashlib
import inspect
import logging
from collections.abc import Callable
from typing import Any

from pipecat.frames.frames import (
    CancelFrame,
    Frame,
    FrameProcessorPauseFrame,
    FrameProcessorPauseUrgentFrame,
    FrameProcessorResumeFrame,
    FrameProcessorResumeUrgentFrame,
    InterruptionFrame,
    StartFrame,
)
from pipecat.observers.base_observer import BaseObserver, FrameProcessed, FramePushed
from pipecat.processors.frame_processor import FrameCallback, FrameDirection, FrameProcessor
from pipecat.utils.errors import ErrorCategory

log = logging.getLogger(__name__)

BEFORE_PUSH = "on_before_push_frame"
AFTER_PUSH = "on_after_push_frame"
BEFORE_PROCESS = "on_before_process_frame"
AFTER_PROCESS = "on_after_process_frame"
DOWNSTREAM = FrameDirection.DOWNSTREAM
UPSTREAM = FrameDirection.UPSTREAM
PAUSES = (FrameProcessorPauseFrame, FrameProcessorPauseUrgentFrame)
RESUMES = (FrameProcessorResumeFrame, FrameProcessorResumeUrgentFrame)

# ``FrameProcessorSetup`` overrides ``__getattribute__`` in Python (a deprecation warning
# for one field): ``setup.observer`` is a Python call per frame, this is a C one.
_field = object.__getattribute__


class SelectiveObserver(BaseObserver):
    """An observer that says which frames it wants before a record is built for them."""

    def observes_push(self, frame: Frame) -> bool:
        """Whether a push of ``frame`` is passed to ``on_push_frame``."""
        return True

    def observes_processed(self) -> bool:
        """Whether processed frames are passed to ``on_process_frame``."""
        return True


def _hooked(processor: FrameProcessor, event: str) -> bool:
    entry = processor._event_handlers.get(event)
    return entry is not None and bool(entry.handlers)


async def push_frame(
    self: FrameProcessor, frame: Frame, direction: FrameDirection = DOWNSTREAM
) -> None:
    """``FrameProcessor.push_frame``: hooks only when registered."""
    if _hooked(self, BEFORE_PUSH):
        await self._call_event_handler(BEFORE_PUSH, frame)
    await internal_push_frame(self, frame, direction)
    if _hooked(self, AFTER_PUSH):
        await self._call_event_handler(AFTER_PUSH, frame)


async def internal_push_frame(self: FrameProcessor, frame: Frame, direction: FrameDirection) -> None:
    """``FrameProcessor.__internal_push_frame``: no trace line; a record only if wanted."""
    setup = self._setup
    try:
        if direction == DOWNSTREAM:
            target = self._next
        elif direction == UPSTREAM:
            target = self._prev
        else:
            return
        if not target:
            return
        observer = _field(setup, "observer") if setup else None
        if observer and (not isinstance(observer, SelectiveObserver) or observer.observes_push(frame)):
            await observer.on_push_frame(FramePushed(
                source=self, destination=target, frame=frame, direction=direction,
                timestamp=self.get_clock().get_time(),
            ))
        await target.queue_frame(frame, direction)
    except Exception as e:
        await self.push_error(
            error_msg=f"Uncaught exception: {e}", exception=e, category=ErrorCategory.UNKNOWN
        )


async def process_frame_step(
    self: FrameProcessor, frame: Frame, direction: FrameDirection, callback: FrameCallback | None
) -> None:
    """``FrameProcessor.__process_frame``: hooks only when registered."""
    try:
        if _hooked(self, BEFORE_PROCESS):
            await self._call_event_handler(BEFORE_PROCESS, frame)
        await self.process_frame(frame, direction)
        if callback:
            await callback(self, frame, direction)
        if _hooked(self, AFTER_PROCESS):
            await self._call_event_handler(AFTER_PROCESS, frame)
    except Exception as e:
        await self.push_error(
            error_msg=f"Error processing frame: {e}", exception=e, category=ErrorCategory.UNKNOWN
        )


async def process_frame(self: FrameProcessor, frame: Frame, direction: FrameDirection) -> None:
    """``FrameProcessor.process_frame``: a ``FrameProcessed`` record only if wanted."""
    setup = self._setup
    observer = _field(setup, "observer") if setup else None
    if observer and (not isinstance(observer, SelectiveObserver) or observer.observes_processed()):
        await observer.on_process_frame(FrameProcessed(
            processor=self, frame=frame, direction=direction, timestamp=self.get_clock().get_time()
        ))
    if isinstance(frame, StartFrame):
        await self._FrameProcessor__start(frame)  # type: ignore[attr-defined]
    elif isinstance(frame, InterruptionFrame):
        await self._start_interruption()
        await self.stop_all_metrics()
    elif isinstance(frame, CancelFrame):
        await self._FrameProcessor__cancel(frame)  # type: ignore[attr-defined]
    elif isinstance(frame, PAUSES):
        await self._FrameProcessor__pause(frame)  # type: ignore[attr-defined]
    elif isinstance(frame, RESUMES):
        await self._FrameProcessor__resume(frame)  # type: ignore[attr-defined]


#: FrameProcessor attribute -> (sha256 of pipecat's source it replaces, the replacement).
REPLACEMENTS: dict[str, tuple[str, Callable[..., Any]]] = {
    "push_frame": (
        "c804f641e2d2dbff2b98a2e081e8e2bf17bb3cbbd44db0d2d93d295e6dd547b6", push_frame),
    "_FrameProcessor__internal_push_frame": (
        "fe35db88927e8f9da8b48442efc3002ad80b408e5e038b8e51914c7c48fd8c80", internal_push_frame),
    "_FrameProcessor__process_frame": (
        "f48568f438985a804d0cd679bce2cc66cc8a3af9c3e95fe199e62835a6722910", process_frame_step),
    "process_frame": (
        "7eb708351eded8224653872efe688fa4ea1a138be3172d144ffa182e87d4e540", process_frame),
}


#: pipecat's own functions while the replacements are installed.
ORIGINALS: dict[str, Callable[..., Any]] = {}


def source_digest(function: Callable[..., Any]) -> str:
    return hashlib.sha256(inspect.getsource(function).encode()).hexdigest()


def pipecat_source_changed() -> list[str]:
    """The replaced functions whose pipecat source is not the one the copies were written for."""
    originals = ORIGINALS or {name: getattr(FrameProcessor, name) for name in REPLACEMENTS}
    return [name for name, (digest, _) in REPLACEMENTS.items()
            if source_digest(originals[name]) != digest]


def install() -> bool:
    """Put the replacements on ``FrameProcessor`` (once); False if pipecat's source differs."""
    if ORIGINALS:
        return True
    changed = pipecat_source_changed()
    if changed:
        log.warning("pipecat's FrameProcessor changed (%s): its own push and process steps "
                    "stay in place", ", ".join(changed))
        return False
    for name, (_, replacement) in REPLACEMENTS.items():
        ORIGINALS[name] = getattr(FrameProcessor, name)
        setattr(FrameProcessor, name, replacement)
    return True


def uninstall() -> None:
    """Put pipecat's own functions back (``bench.frame_path`` compares the two)."""
    for name, original in ORIGINALS.items():
        setattr(FrameProcessor, name, original)
    ORIGINALS.clear()
