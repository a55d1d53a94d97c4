"""Whether a call is recorded: the server (``RECORD_CALLS``), the workflow
(``settings.recording``) and, once plans carry features, the organization's plan."""

from __future__ import annotations

from typing import TYPE_CHECKING

from runtime.workflow import CallSettings

if TYPE_CHECKING:
    from server.calls.admission import CallHandle
    from server.services import Services


def should_record(services: Services, handle: CallHandle, call: CallSettings | None) -> bool:
    if not services.settings.record_calls:
        return False
    # PLAN FEATURE HOOK (recording): when plans gain feature flags, refuse here for an
    # organization whose plan lacks `recording` (handle.organization_id; the plan is known at
    # admission, server/calls/admission.py). Keep this the one place the decision is made.
    return call is None or call.recording
