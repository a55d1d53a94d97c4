"""The threads Smart Turn inference runs on: one small pool per process, at a lower CPU
priority than the event loop.

pipecat runs each analyzer's inference on a thread of its own (one per call). On the one core
a server process is given, every call whose turn ends at the same moment then ran its ~75 ms
inference at the same time as the others and as the event loop that paces every call's audio:
the loop got 1/(n+1) of the core, and all n inferences finished late together. Here at most
one inference per core of the process's CPU affinity runs at once (the others queue: the first
verdict comes back after one inference, not after n), and the pool's threads run
``INFERENCE_NICE`` above the process's nice (Linux nice is per thread), so when the core is
contended the scheduler gives the event loop most of it; when it is idle the inference gets
all of it. ONNX Runtime releases the GIL during ``InferenceSession.run`` (~47 of the ~51 ms
of CPU per prediction; the Whisper features take ~3 ms in numpy).
"""

from __future__ import annotations

import contextlib
import os
import threading
from concurrent.futures import ThreadPoolExecutor

#: Added to the inference threads' nice (the event loop keeps the process's, usually 0):
#: CFS weight 335 against 1024 at nice 5, so under contention the loop gets ~75 % of the core.
INFERENCE_NICE = 5

_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None


def _lower_priority() -> None:
    with contextlib.suppress(OSError, AttributeError):  # not Linux: run as is
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + INFERENCE_NICE))


_threads: int | None = None


def cores() -> int:
    """The cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def configure(threads: int | None) -> None:
    """Set the pool's size before its first use (``None``: one per core). A server of N
    worker processes gives each cores ÷ N, so the machine runs at most one inference per
    core, not N per core."""
    global _threads
    with _lock:
        if _pool is not None and threads != _threads:
            raise RuntimeError("the inference pool is already running")
        _threads = threads


def workers() -> int:
    """One inference at a time per core this process may run on, unless configured."""
    return _threads if _threads is not None else cores()


def inference_pool() -> ThreadPoolExecutor:
    """The process-wide pool (started on first use)."""
    global _pool
    with _lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(
                max_workers=workers(), thread_name_prefix="smart-turn", initializer=_lower_priority
            )
        return _pool
