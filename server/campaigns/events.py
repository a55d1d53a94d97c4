"""Campaign webhooks (``campaign.started``, ``campaign.completed``,
``campaign.contact_completed``) through the customer-webhook job path."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from server.jobs.webhooks import emit_event

if TYPE_CHECKING:
    from server.services import Services


def campaign_data(campaign: Any) -> dict[str, Any]:
    return {"campaign_id": str(campaign["id"]), "name": campaign["name"],
            "workflow_id": str(campaign["workflow_id"])}  # fmt: skip


async def emit_campaign(services: Services, campaign: Any, event: str) -> None:
    await emit_event(services, campaign["organization_id"], event, campaign_data(campaign))


async def contact_completed(services: Services, campaign: Any, contact: Any) -> None:
    await emit_event(services, campaign["organization_id"], "campaign.contact_completed", {
        **campaign_data(campaign), "contact_id": str(contact["id"]),
        "phone_number": contact["phone_number"], "outcome": contact["outcome"],
        "attempts": contact["attempts"], "call_id": str(contact["call_id"]),
        "variables": dict(contact["variables"] or {}),
    })  # fmt: skip
