"""Post-call jobs: ``call.ended`` (webhooks, then analysis and the usage check) and
``call.analyze``.

``call.analyze`` extracts the pinned workflow version's declared variables and a summary
from the stored transcript (a structured-output model run, or the deterministic offline
extraction), stores both on the call and emits ``call.analyzed``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from uuid import UUID

import asyncpg

from db import call_analysis as analysis_db
from db import calls as calls_db
from db import jobs as jobs_db
from db import provider_credentials as creds_db
from db import usage as usage_db
from db import workflows as workflows_db
from pipeline.providers import resolve_credentials
from runtime.analysis import analyze_call, history_from_turns
from runtime.models import model_config_for
from runtime.workflow import ServiceChoice, Workflow
from server.billing import stripe_meter
from server.billing.usage import USAGE_CHECK_JOB
from server.campaigns.opt_out import apply_opt_out
from server.jobs.webhooks import emit_event

if TYPE_CHECKING:
    from server.services import Services

CALL_ENDED_JOB = "call.ended"
ANALYZE_JOB = "call.analyze"


async def enqueue_call_ended(pool: asyncpg.Pool, organization_id: UUID, call_id: UUID) -> None:
    """Queue the post-call work for a finished call (never blocks the call itself). Once
    per call: a second enqueue (e.g. a sweeper finalizing the same call) is a no-op."""
    await jobs_db.enqueue(pool, CALL_ENDED_JOB, {"call_id": str(call_id)},
                          organization_id=organization_id, dedupe_key=str(call_id))


def call_event_data(call: Any) -> dict[str, Any]:
    def iso(value: Any) -> str | None:
        return value.isoformat() if value is not None else None

    return {
        "call_id": str(call["id"]),
        "workflow_id": str(call["workflow_id"]) if call["workflow_id"] else None,
        "workflow_version": call["workflow_version"],
        "channel": call["channel"],
        "direction": call["direction"],
        "from_number": call["from_number"],
        "to_number": call["to_number"],
        "status": call["status"],
        "end_reason": call["end_reason"],
        "started_at": iso(call["started_at"]),
        "answered_at": iso(call["answered_at"]),
        "ended_at": iso(call["ended_at"]),
        "duration_seconds": call["duration_seconds"],
    }


async def handle_call_ended(services: Services, job: asyncpg.Record) -> None:
    org, call_id = job["organization_id"], UUID(job["payload"]["call_id"])
    call = await calls_db.get(services.db, org, call_id)
    if call is None:
        return
    async with services.db.acquire() as conn, conn.transaction():
        # Analysis is its own job so that its retries never resend call.ended.
        # Once per call, even when this job is retried after queueing it.
        await jobs_db.enqueue(conn, ANALYZE_JOB, {"call_id": str(call_id)},
                              organization_id=org, max_attempts=5, dedupe_key=str(call_id))
        await stripe_meter.enqueue_for_call(conn, services.settings, org, call_id)  # Stripe
        # usage.threshold alerts (server/billing/usage.py), off the call path
        await jobs_db.enqueue(conn, USAGE_CHECK_JOB, {"call_id": str(call_id)},
                              organization_id=org, max_attempts=5)
    await emit_event(services, org, "call.ended", call_event_data(call))
    await apply_opt_out(services, call)  # the agent's opt_out tool → the do-not-call list


async def _definition(services: Services, call: Any) -> dict[str, Any] | None:
    org, workflow_id = call["organization_id"], call["workflow_id"]
    if workflow_id is None:
        return None
    if call["workflow_version"] is None:
        found = await workflows_db.definition_for_call(services.db, org, workflow_id, draft=True)
        return found[0] if found else None
    row = await workflows_db.get_version(services.db, org, workflow_id, call["workflow_version"])
    return row["definition"] if row else None


async def handle_analyze(services: Services, job: asyncpg.Record) -> None:
    org, call_id = job["organization_id"], UUID(job["payload"]["call_id"])
    call = await calls_db.get(services.db, org, call_id)
    if call is None:
        return
    definition = await _definition(services, call)
    workflow = Workflow.model_validate(definition) if definition else None
    turns = await calls_db.list_turns(services.db, org, call_id)
    stored = await creds_db.load_decrypted(services.db, org, services.secret_box)
    credentials = resolve_credentials(stored, services.settings, egress=services.egress)
    model = model_config_for(workflow.settings.llm if workflow else ServiceChoice(),
                             credentials.openai, egress=credentials.egress)
    analysis = await analyze_call(workflow.variables if workflow else [],
                                  history_from_turns(turns), model)
    await analysis_db.set_analysis(services.db, org, call_id, extracted=analysis.extracted,
                                   summary=analysis.summary)
    if analysis.input_tokens or analysis.output_tokens:
        label = f"{model.model} (post-call analysis)"  # apart from the call's own totals
        await usage_db.upsert_for_call(services.db, org, call_id, call["workflow_id"], [
            ("llm_input_tokens", model.engine, label, float(analysis.input_tokens)),
            ("llm_output_tokens", model.engine, label, float(analysis.output_tokens)),
        ])
    await emit_event(services, org, "call.analyzed", {
        "call_id": str(call_id),
        "extracted": analysis.extracted,
        "summary": analysis.summary,
        "missing_required": analysis.missing_required,
        "engine": analysis.engine,
    })
