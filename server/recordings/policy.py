"""Whether a call is recorded: admission decided for the call (``RECORD_CALLS``, or the
call's own ``record`` request, and only when the organization's plan has the ``recording``
feature: ``server/calls/admission.py``), and its workflow may turn recording off
(``settings.recording: false``). Both must allow it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from runtime.workflow import CallSettings

if TYPE_CHECKING:
    from server.calls.admission import CallHandle


def should_record(handle: CallHandle, call: CallSettings | None) -> bool:
    return bool(handle.record) and (call is None or call.recording)
