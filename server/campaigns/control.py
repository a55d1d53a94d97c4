"""Creating a campaign (checked against the organization's workflow and numbers) and its
state changes: start, pause, resume, cancel."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from uuid import UUID

from db import campaign_contacts as contacts_db
from db import campaigns as campaigns_db
from db import workflows as workflows_db
from server.billing.catalog import Feature
from server.billing.entitlements import plan_of, require_feature
from server.campaigns.dispatcher import dispatcher_for
from server.campaigns.events import emit_campaign
from server.campaigns.models import CampaignConfig, CampaignIn
from server.errors import ApiError, ErrorDetail, conflict, detail, not_found

if TYPE_CHECKING:
    from server.services import Services

# state changes: the states each action moves from, and where to
ACTIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "start": (("draft",), "running"),
    "pause": (("running",), "paused"),
    "resume": (("paused",), "running"),
    "cancel": (("draft", "running", "paused"), "canceled"),
}


def _invalid(*details: ErrorDetail) -> ApiError:
    return ApiError(422, "validation_error", details[0].message, list(details))


async def require_campaigns_feature(services: Services, organization_id: UUID) -> None:
    """THE single place the plan's campaign feature is checked (create and start call it):
    403 ``feature_not_in_plan`` on a plan without ``campaigns``."""
    require_feature(await plan_of(services, organization_id), Feature.CAMPAIGNS)


async def create(services: Services, organization_id: UUID, body: CampaignIn) -> Any:
    await require_campaigns_feature(services, organization_id)
    pinned = await workflows_db.definition_for_call(services.db, organization_id,
                                                    body.workflow_id, draft=False)  # fmt: skip
    if pinned is None:
        raise _invalid(detail("body", "workflow_id", code="not_published",
                              message="not a published workflow of this organization"))  # fmt: skip
    numbers = await campaigns_db.caller_numbers(services.db, organization_id,
                                                body.carrier_account_id)  # fmt: skip
    if body.caller_ids is None:
        if not numbers:
            raise _invalid(
                detail(
                    "body",
                    "caller_ids",
                    code="no_caller_id",
                    message="the organization has no caller-id number"
                    + (" on this carrier account" if body.carrier_account_id else ""),
                )
            )
        caller_ids = numbers[:1]
    else:
        unknown = [detail("body", "caller_ids", i, code="not_caller_id",
                          message="not a caller-id number of this organization"
                          + (" on this carrier account" if body.carrier_account_id else ""))
                   for i, n in enumerate(body.caller_ids) if n not in numbers]  # fmt: skip
        if unknown:
            raise _invalid(*unknown)
        caller_ids = body.caller_ids
    definition = pinned[0]
    inputs = definition.get("inputs") or []
    required = set(body.required_variables) | {
        str(i["name"]) for i in inputs if isinstance(i, dict) and i.get("default") is None
    }
    required -= set(body.variables)
    config = CampaignConfig(schedule=body.schedule, retry=body.retry, voicemail=body.voicemail,
                            variables=body.variables, required_variables=sorted(required))  # fmt: skip
    return await campaigns_db.create(
        services.db, organization_id, name=body.name, workflow_id=body.workflow_id,
        config=config.model_dump(mode="json"), caller_ids=caller_ids,
        max_concurrent_calls=body.max_concurrent_calls, calls_per_minute=body.calls_per_minute,
        time_zone=body.schedule.time_zone,
    )  # fmt: skip


async def change_state(services: Services, organization_id: UUID, campaign_id: UUID,
                       action: str, public_base: str) -> Any:  # fmt: skip
    campaign = await campaigns_db.get(services.db, organization_id, campaign_id)
    if campaign is None:
        raise not_found("campaign")
    from_states, to_state = ACTIONS[action]
    config = None
    if action == "start":
        await require_campaigns_feature(services, organization_id)
        if not await contacts_db.count(services.db, organization_id, campaign_id):
            raise conflict("the campaign has no contacts", code="no_contacts")
        stored = CampaignConfig.model_validate(campaign["config"])
        config = stored.model_copy(update={"public_base": public_base}).model_dump(mode="json")
    async with services.db.acquire() as conn, conn.transaction():
        row = await campaigns_db.transition(conn, organization_id, campaign_id,
                                            from_states=from_states, to_state=to_state,
                                            config=config)  # fmt: skip
        if row is None:
            raise conflict(f"a {campaign['state']} campaign cannot {action}",
                           code="invalid_state")  # fmt: skip
        if action == "cancel":
            await campaigns_db.cancel_pending(conn, organization_id, campaign_id)
    if action == "start":
        await emit_campaign(services, row, "campaign.started")
    if to_state == "running":
        dispatcher_for(services).wake()
    return row
