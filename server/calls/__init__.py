"""The call lifecycle used by browser (WebRTC) and phone calls."""

from pipeline.call_runner import CallControl
from server.calls.lifecycle import (
    CallHandle,
    CallLimitExceeded,
    CallUnavailable,
    NewCall,
    end_call,
    load_call,
    run_call_on_transport,
    start_call,
    update_status,
)

__all__ = [
    "CallControl",
    "CallHandle",
    "CallLimitExceeded",
    "CallUnavailable",
    "NewCall",
    "end_call",
    "load_call",
    "run_call_on_transport",
    "start_call",
    "update_status",
]
