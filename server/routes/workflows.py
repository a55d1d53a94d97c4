"""Workflow management: drafts, validation, immutable versions, rollback, import/export."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field

from db import workflows as workflows_db
from runtime.templates import TEMPLATES, TemplateName
from runtime.validation import (
    Problem,
    depth_problem,
    key_problems,
    validate_definition,
)
from runtime.workflow import Workflow
from server import audit
from server.api import ApiContext, Router
from server.billing.entitlements import within_limit
from server.errors import ApiError, conflict, not_found
from server.json_body import INT32_MAX
from server.openapi import documented_as
from server.pagination import decode_cursor, encode_cursor

router = Router(tags=["workflows"])
EXPORT_FORMAT = "switchboard.workflow/v1"
# A draft may be invalid, so routes accept any JSON object here; OpenAPI documents it as the
# ``Workflow`` schema. Nesting is bounded at save (``MAX_DEFINITION_DEPTH``).
Definition = Annotated[dict[str, Any], documented_as(Workflow)]

MINIMAL_DEFINITION: dict[str, Any] = {
    "global": "",
    "nodes": [
        {"id": "start", "type": "start", "greeting": "Hello! How can I help you today?",
         "prompt": "Help the caller."},
        {"id": "end", "type": "end", "prompt": "Say goodbye.", "say": "Goodbye!"},
    ],
    "edges": [{"from": "start", "to": "end", "condition": "The caller is done or says bye"}],
}


class ProblemOut(BaseModel):
    pointer: str = Field(description="JSON pointer into the definition")
    code: str
    message: str


class WorkflowIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=2_000)
    definition: Definition | None = Field(
        default=None, description="Graph definition; omitted: a template (or a minimal one)"
    )
    template: TemplateName | None = Field(
        default=None, description="Start from this template (GET /api/v1/workflow-templates)"
    )


class WorkflowPatch(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2_000)
    definition: Definition | None = None


class WorkflowSummary(BaseModel):
    id: UUID
    name: str
    description: str
    latest_version: int = Field(description="Highest published version number (0: none)")
    published_version: int | None = Field(description="The version new calls run")
    archived: bool
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: Any) -> WorkflowSummary:
        fields = {k: row[k] for k in cls.model_fields if k != "archived"}
        return cls(**fields, archived=row["archived_at"] is not None)


class WorkflowOut(WorkflowSummary):
    definition: Definition = Field(description="The draft")
    problems: list[ProblemOut] = Field(description="Validation problems of the draft")

    @classmethod
    def of(cls, row: Any) -> WorkflowOut:  # type: ignore[override]
        summary = WorkflowSummary.of(row).model_dump()
        problems = [ProblemOut(**p.to_json()) for p in validate_definition(row["draft"])]
        return cls(**summary, definition=row["draft"], problems=problems)


class WorkflowPage(BaseModel):
    items: list[WorkflowSummary]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page")


class ListQuery(BaseModel):
    q: str | None = Field(default=None, max_length=200, description="Search name/description")
    limit: int = Field(default=20, ge=1, le=100)
    cursor: str | None = None
    include_archived: bool = False


class ValidationOut(BaseModel):
    valid: bool
    problems: list[ProblemOut]


class PublishIn(BaseModel):
    note: str = Field(default="", max_length=500)


class VersionOut(BaseModel):
    version: int
    note: str
    published_by: UUID | None = Field(description="The user who published it")
    published_by_api_key: UUID | None = Field(
        default=None, description="The API key it was published with (then published_by is null)"
    )
    created_at: datetime
    definition: Definition | None = None


class RollbackIn(BaseModel):
    version: int = Field(ge=1, le=INT32_MAX)


class ExportDoc(BaseModel):
    format: Literal["switchboard.workflow/v1"] = EXPORT_FORMAT
    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=2_000)
    definition: Definition


async def _load(ctx: ApiContext) -> Any:
    row = await workflows_db.get(ctx.db, ctx.caller.organization_id, ctx.path["workflow_id"])
    if row is None:
        raise not_found("workflow")
    return row


def _problems_error(problems: list[Problem]) -> ApiError:
    """422 ``workflow_invalid``: the details' pointers point into the definition."""
    return ApiError(422, "workflow_invalid", f"the workflow has {len(problems)} problem(s)",
                    [p.to_json() for p in problems])


def _storable(definition: dict[str, Any] | None, field: str = "definition") -> None:
    """A draft may be invalid, but never nested deeper than ``MAX_DEFINITION_DEPTH``."""
    problem = depth_problem(definition) if definition is not None else None
    if problem is not None:
        raise ApiError(422, "validation_error", problem.message,
                       [{"pointer": f"/body/{field}{problem.pointer}", "code": problem.code,
                         "message": problem.message}])


def _public_base(ctx: ApiContext) -> str:
    url = ctx.request.url
    return ctx.services.settings.public_base_url(f"{url.scheme}://{url.netloc}")


async def _key_problems(ctx: ApiContext, definition: dict[str, Any]) -> list[Problem]:
    from server.calls.setup import load_call_providers, speech_language_problems

    _, credentials = await load_call_providers(ctx.services, ctx.caller.organization_id)
    accounts = {name for name in ("deepgram", "openai", "elevenlabs", "cartesia")
                if credentials.for_provider(name) is not None}
    workflow = Workflow.model_validate(definition)
    problems = key_problems(workflow, accounts)
    if problems:
        return problems
    # the providers the workflow leaves to the organization must speak its language too
    language = workflow.settings.language
    unsupported = await speech_language_problems(ctx.services, ctx.caller.organization_id,
                                                 workflow.settings, language)
    return [Problem("/settings/language", "unsupported_language", p.message) for p in unsupported]


@router.post("/api/v1/workflows", body=WorkflowIn, response=WorkflowOut, status=201,
             role="admin", errors=[402],
             summary="Create a workflow (draft). Without a definition it starts from the named "
                     "template or a minimal start->end graph; drafts may be invalid")
async def create_workflow(ctx: ApiContext) -> WorkflowOut:
    body: WorkflowIn = ctx.body
    definition = body.definition
    if definition is not None and body.template is not None:
        raise ApiError(422, "validation_error", "give a definition or a template, not both",
                       [{"pointer": "/body/template", "code": "conflicting_fields",
                         "message": "give a definition or a template, not both"}])
    if definition is None:
        definition = (TEMPLATES[body.template].build(_public_base(ctx)) if body.template
                      else dict(MINIMAL_DEFINITION))
    _storable(definition)
    async with within_limit(ctx.services, ctx.caller.organization_id, "workflows") as conn:
        row = await workflows_db.create(conn, ctx.caller.organization_id, name=body.name,
                                        description=body.description, draft=definition)
    return WorkflowOut.of(row)


@router.get("/api/v1/workflows", query=ListQuery, response=WorkflowPage, errors=[400],
            summary="List the organization's workflows, newest first; ?q= searches name and "
                    "description, ?cursor= pages, archived ones only with include_archived")
async def list_workflows(ctx: ApiContext) -> WorkflowPage:
    query: ListQuery = ctx.query
    after = decode_cursor(query.cursor) if query.cursor else None
    rows = await workflows_db.list_for_org(
        ctx.db, ctx.caller.organization_id, search=query.q,
        include_archived=query.include_archived, after=after, limit=query.limit + 1,
    )
    page = rows[: query.limit]
    cursor = encode_cursor(page[-1]) if len(rows) > query.limit else None
    return WorkflowPage(items=[WorkflowSummary.of(r) for r in page], next_cursor=cursor)


@router.get("/api/v1/workflows/{workflow_id:uuid}", response=WorkflowOut,
            summary="Get a workflow with its draft definition and the draft's validation "
                    "problems")
async def get_workflow(ctx: ApiContext) -> WorkflowOut:
    return WorkflowOut.of(await _load(ctx))


@router.patch("/api/v1/workflows/{workflow_id:uuid}", body=WorkflowPatch, response=WorkflowOut,
              role="admin",
              summary="Update the draft (name, description, definition). Published versions "
                      "and live calls are unaffected; archived workflows are read-only (404)")
async def update_workflow(ctx: ApiContext) -> WorkflowOut:
    body: WorkflowPatch = ctx.body
    _storable(body.definition)
    row = await workflows_db.update_draft(
        ctx.db, ctx.caller.organization_id, ctx.path["workflow_id"], name=body.name,
        description=body.description, draft=body.definition,
    )
    if row is None:
        raise not_found("workflow")
    return WorkflowOut.of(row)


@router.post("/api/v1/workflows/{workflow_id:uuid}/validate", response=ValidationOut,
             summary="Validate the draft: every problem at once, each with a JSON pointer")
async def validate_workflow(ctx: ApiContext) -> ValidationOut:
    problems = validate_definition((await _load(ctx))["draft"])
    return ValidationOut(valid=not problems,
                         problems=[ProblemOut(**p.to_json()) for p in problems])


@router.post("/api/v1/workflows/{workflow_id:uuid}/publish", body=PublishIn,
             response=VersionOut, status=201, role="admin", errors=[409],
             summary="Publish the draft as the next immutable numbered version; new calls run "
                     "it, live calls keep their version",
             description="422 `workflow_invalid` lists every problem (pointers into the "
                         "definition), including a cloud provider with no API key available "
                         "to the organization. 409 `workflow_unchanged` when the draft equals "
                         "the published version (nothing is created; the message names it).")
async def publish_workflow(ctx: ApiContext) -> VersionOut:
    row = await _load(ctx)
    if row["archived_at"] is not None:
        raise not_found("workflow")
    problems = validate_definition(row["draft"])
    if not problems:
        problems = await _key_problems(ctx, row["draft"])
    if problems:
        raise _problems_error(problems)
    result = await workflows_db.publish(
        ctx.db, ctx.caller.organization_id, row["id"], definition=row["draft"],
        note=ctx.body.note, published_by=ctx.caller.user_id,
        published_by_api_key=ctx.caller.api_key_id,
    )
    if result is None:
        raise not_found("workflow")
    if result.unchanged:
        number = result.version["version"]
        raise conflict(f"the draft is unchanged since version {number}, which is published",
                       code="workflow_unchanged")
    await audit.record(ctx, audit.AuditAction.WORKFLOW_PUBLISHED, target_type="workflow",
                       target_id=row["id"], details={"version": result.version["version"]})
    return VersionOut(**{k: result.version[k] for k in VersionOut.model_fields
                         if k != "definition"}, definition=row["draft"])


@router.get("/api/v1/workflows/{workflow_id:uuid}/versions", response=list[VersionOut],
            summary="List published versions, newest first (definitions omitted)")
async def list_versions(ctx: ApiContext) -> list[VersionOut]:
    await _load(ctx)
    rows = await workflows_db.list_versions(ctx.db, ctx.caller.organization_id,
                                            ctx.path["workflow_id"])
    return [VersionOut(**dict(r)) for r in rows]


@router.get("/api/v1/workflows/{workflow_id:uuid}/versions/{version:int}", response=VersionOut,
            summary="Get one published version with its definition")
async def get_version(ctx: ApiContext) -> VersionOut:
    row = await workflows_db.get_version(ctx.db, ctx.caller.organization_id,
                                         ctx.path["workflow_id"], ctx.path["version"])
    if row is None:
        raise not_found("workflow version")
    return VersionOut(**{k: row[k] for k in VersionOut.model_fields})


@router.post("/api/v1/workflows/{workflow_id:uuid}/rollback", body=RollbackIn,
             response=WorkflowOut, role="admin",
             summary="Roll back: make an earlier version the published one again (no new "
                     "version is created) and reset the draft to it")
async def rollback_workflow(ctx: ApiContext) -> WorkflowOut:
    await _load(ctx)
    row = await workflows_db.rollback(ctx.db, ctx.caller.organization_id,
                                      ctx.path["workflow_id"], ctx.body.version)
    if row is None:
        raise not_found("workflow version")
    await audit.record(ctx, audit.AuditAction.WORKFLOW_ROLLED_BACK, target_type="workflow",
                       target_id=ctx.path["workflow_id"], details={"version": ctx.body.version})
    return WorkflowOut.of(row)


@router.post("/api/v1/workflows/{workflow_id:uuid}/duplicate", response=WorkflowOut,
             status=201, role="admin", errors=[402],
             summary="Copy the draft into a new unpublished workflow named 'Copy of ...'")
async def duplicate_workflow(ctx: ApiContext) -> WorkflowOut:
    row = await _load(ctx)
    _storable(row["draft"])
    async with within_limit(ctx.services, ctx.caller.organization_id, "workflows") as conn:
        copy = await workflows_db.create(conn, ctx.caller.organization_id,
                                         name=f"Copy of {row['name']}"[:200],
                                         description=row["description"], draft=row["draft"])
    return WorkflowOut.of(copy)


@router.post("/api/v1/workflows/{workflow_id:uuid}/archive", response=WorkflowOut,
             role="admin",
             summary="Archive: hidden from lists, read-only, and no new calls can start on it")
async def archive_workflow(ctx: ApiContext) -> WorkflowOut:
    row = await workflows_db.archive(ctx.db, ctx.caller.organization_id, ctx.path["workflow_id"])
    if row is None:
        raise not_found("workflow")
    return WorkflowOut.of(row)


@router.get("/api/v1/workflows/{workflow_id:uuid}/export", response=ExportDoc,
            summary="Export the draft as a portable JSON document (no ids, no secrets)")
async def export_workflow(ctx: ApiContext) -> ExportDoc:
    row = await _load(ctx)
    return ExportDoc(name=row["name"], description=row["description"], definition=row["draft"])


@router.post("/api/v1/workflows/import", body=ExportDoc, response=WorkflowOut, status=201,
             role="admin", errors=[402],
             summary="Import an exported document as a new draft workflow")
async def import_workflow(ctx: ApiContext) -> WorkflowOut:
    doc: ExportDoc = ctx.body
    _storable(doc.definition)
    async with within_limit(ctx.services, ctx.caller.organization_id, "workflows") as conn:
        row = await workflows_db.create(conn, ctx.caller.organization_id, name=doc.name,
                                        description=doc.description, draft=doc.definition)
    return WorkflowOut.of(row)


@router.delete("/api/v1/workflows/{workflow_id:uuid}", role="admin", errors=[409],
               summary="Delete a draft (never published) or archived workflow and its versions",
               description="409 `workflow_published`: archive it first; 409 `workflow_in_use`: "
                           "a phone number or campaign still uses it. Past calls keep their "
                           "records (without the workflow).")
async def delete_workflow(ctx: ApiContext) -> None:
    outcome = await workflows_db.delete(ctx.db, ctx.caller.organization_id,
                                        ctx.path["workflow_id"])
    if outcome == "not_found":
        raise not_found("workflow")
    if outcome == "published":
        raise conflict("a published workflow must be archived before it is deleted",
                       code="workflow_published")
    if outcome == "in_use":
        raise conflict("a phone number or campaign still uses this workflow",
                       code="workflow_in_use")
