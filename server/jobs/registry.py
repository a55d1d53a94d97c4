"""Job kinds and their handlers (one line per kind)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from server.jobs import post_call, webhooks
from server.jobs.worker import JobHandler

HANDLERS: dict[str, JobHandler] = {
    post_call.CALL_ENDED_JOB: post_call.handle_call_ended,
    post_call.ANALYZE_JOB: post_call.handle_analyze,
    webhooks.DELIVER_JOB: webhooks.deliver,
}

# Called once a job of this kind has failed for the last time.
GIVE_UP_HOOKS: dict[str, Callable[[Any, Any], Awaitable[None]]] = {
    webhooks.DELIVER_JOB: webhooks.give_up,
}
