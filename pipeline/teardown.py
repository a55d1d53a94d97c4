"""Free an ended call's pipeline by reference counting instead of leaving it to a full
garbage collection.

A pipecat pipeline is a web of reference cycles (processors linked both ways, each holding
its event handlers' bound methods, a lambda over itself, its task manager's tasks): when the
call ends, none of it is freed until the collector's next generation-2 pass, which runs on
the event-loop thread. With a dozen calls ending a minute that pass found ~40,000 objects of
ended calls at a time (plus the live heap it must traverse anyway) and held the loop for
tens of milliseconds: every live call's audio stalled about every 46 s (BENCHMARKS.md,
"Soak"). ``release`` clears the instance dictionaries of the call's own pipecat objects once
nothing of the call runs any more, so the cycles are gone and the objects are freed at once,
call by call (a millisecond or two each), and full collections stay small.

Only pipecat objects reached from the call's worker and pipeline through other pipecat
objects are cleared: process-wide things they hold (ONNX sessions, HTTP clients, settings)
are not pipecat objects and are left alone, and so are the transport's objects (its input
and output processors, a WebRTC connection, the serializer): the code that ran the call
still closes them after ``run_call`` returns. A phone call's are released by
``release_transport`` once its websocket is closed; a browser call's stay for the collector.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from pipecat.serializers.base_serializer import FrameSerializer
from pipecat.transports.base_transport import BaseTransport
from pipecat.utils.base_object import BaseObject


def _children(value: object) -> Iterator[object]:
    if isinstance(value, BaseObject):
        yield value
    elif isinstance(value, (list, tuple, set, frozenset)):
        yield from (v for v in value if isinstance(v, BaseObject))
    elif isinstance(value, dict):
        yield from (v for v in value.values() if isinstance(v, BaseObject))


def call_objects(roots: Iterable[object]) -> list[BaseObject]:
    """The pipecat objects reachable from ``roots`` through pipecat objects."""
    found: dict[int, BaseObject] = {}
    stack = [r for root in roots for r in _children(root)]
    while stack:
        obj = stack.pop()
        if id(obj) in found:
            continue
        found[id(obj)] = obj  # type: ignore[assignment]
        for value in list(getattr(obj, "__dict__", {}).values()):
            stack.extend(_children(value))
    return list(found.values())


def _kept(obj: BaseObject) -> bool:
    """The transport's objects: still used to close the call's connection."""
    return isinstance(obj, (BaseTransport, FrameSerializer)) or type(obj).__module__.startswith(
        "pipecat.transports."
    )


def release_transport(transport: BaseTransport) -> int:
    """Clear a transport's own pipecat objects (its input and output processors, the
    serializer) once its connection is closed and nothing uses it any more: a phone call's
    websocket transport after the stream is closed (``server/calls/phone/streams.py``).
    Returns how many."""
    return _clear(call_objects([transport]))


def release(roots: Iterable[object]) -> int:
    """Clear the attributes of the pipecat objects of an ended call but the transport's (see
    the module docstring); returns how many. Call it only when none of them runs any more."""
    return _clear([obj for obj in call_objects(roots) if not _kept(obj)])


def _clear(objects: list[object]) -> int:
    for obj in objects:
        getattr(obj, "__dict__", {}).clear()
    return len(objects)
