"""An ended call's pipecat objects are freed by reference counting (``pipeline.teardown``),
not left for a full garbage collection; what they share with other calls is left alone."""

from __future__ import annotations

import gc
import weakref

from pipecat.pipeline.pipeline import Pipeline
from pipecat.processors.frame_processor import FrameProcessor
from pipecat.transports.base_transport import BaseTransport

from pipeline.teardown import call_objects, release


class Shared:
    """Something process-wide a processor holds (an HTTP client, a model session)."""

    def __init__(self) -> None:
        self.alive = True


class Holder(FrameProcessor):
    def __init__(self, shared: Shared) -> None:
        super().__init__()
        self.shared = shared

        @self.event_handler("on_something")
        async def _on_something(_processor: FrameProcessor) -> None:
            del _processor


def test_a_released_pipeline_is_freed_without_the_collector() -> None:
    shared = Shared()
    a, b = Holder(shared), Holder(shared)
    pipeline = Pipeline([a, b])
    pipeline.link(FrameProcessor())  # processors linked both ways: cycles
    gone = [weakref.ref(p) for p in (a, b, pipeline)]
    assert {a, b, pipeline} <= set(call_objects([pipeline]))

    gc.disable()
    try:
        assert release([pipeline]) >= 3
        del a, b, pipeline
        assert all(ref() is None for ref in gone)  # reference counting freed them
    finally:
        gc.enable()
    assert shared.alive and vars(shared) == {"alive": True}


def test_without_release_the_cycles_wait_for_the_collector() -> None:
    pipeline = Pipeline([Holder(Shared()), Holder(Shared())])
    ref = weakref.ref(pipeline)
    gc.disable()
    try:
        del pipeline
        assert ref() is not None  # its cycles keep it until a collection
    finally:
        gc.enable()
    gc.collect()
    assert ref() is None


class _Transport(BaseTransport):
    """Only a transport's two ends."""

    def input(self) -> FrameProcessor:
        return self._input

    def output(self) -> FrameProcessor:
        return self._output


def test_the_transport_is_left_for_the_code_that_closes_it() -> None:
    transport = _Transport()
    transport._input = transport._output = FrameProcessor()
    shared = Shared()
    holder = Holder(shared)
    pipeline = Pipeline([holder])
    holder.transport = transport  # a processor that holds its transport
    release([pipeline])
    assert vars(holder) == {} and vars(transport)  # the transport keeps its attributes


def test_a_closed_transport_is_freed_without_the_collector() -> None:
    # a phone call's websocket transport, once its stream is closed (server/calls/phone/streams.py)
    from pipeline.teardown import release_transport

    transport = _Transport()
    transport._input, transport._output = FrameProcessor(), FrameProcessor()
    transport._input.link(transport._output)  # linked both ways: a cycle
    transport._output.transport = transport  # and back to the transport
    gone = [weakref.ref(o) for o in (transport, transport._input, transport._output)]
    gc.disable()
    try:
        assert release_transport(transport) >= 3
        del transport
        assert all(ref() is None for ref in gone)  # reference counting freed them
    finally:
        gc.enable()
