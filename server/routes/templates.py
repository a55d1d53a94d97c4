"""Workflow templates: starter definitions to create a workflow from."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from runtime.templates import TEMPLATES, TemplateName
from runtime.workflow import Workflow
from server.api import ApiContext, Router
from server.openapi import documented_as

router = Router(tags=["workflows"])


class TemplateOut(BaseModel):
    name: TemplateName = Field(description='Pass as {"template": name} to POST /api/v1/workflows')
    title: str
    description: str
    direction: Literal["inbound", "outbound"] = Field(description="The calls it is made for")
    definition: Annotated[dict[str, Any], documented_as(Workflow)]


@router.get("/api/v1/workflow-templates", response=list[TemplateOut],
            summary="List workflow templates with their full definitions",
            description="Each template is valid and runs offline. The order_status template's "
                        "HTTP tool calls this server's demo order service "
                        "(`GET /demo/orders?order_number=...`).")
async def list_templates(ctx: ApiContext) -> list[TemplateOut]:
    url = ctx.request.url
    base = ctx.services.settings.public_base_url(f"{url.scheme}://{url.netloc}")
    return [TemplateOut(name=t.name, title=t.title, description=t.description,
                        direction=t.direction, definition=t.build(base))
            for t in TEMPLATES.values()]
