"""Text chat with a workflow: the same agent runtime as calls, without audio.

Chat sessions live in PostgreSQL (``db/chat_sessions.py``), keyed by an unguessable id,
bound to one organization and workflow, and dropped after ``CHAT_TTL_SECONDS`` idle: any
instance of a fleet continues a session (no sticky sessions needed). Each turn rebuilds the
agent session from the stored definition and conversation state. Turns of one session run
one at a time: on one instance they wait for each other, across instances the later save
loses (409 ``chat_busy``: retry).

Bounds: at most ``MAX_CHAT_SESSIONS_PER_ORG`` live sessions per organization (429 with
``Retry-After``); a session holds at most ``MAX_CHAT_TURNS`` caller turns (then 409
``chat_too_long``: start a new session), which bounds its history; an organization whose
plan allows no calls (``suspended``) cannot chat either (403).
"""

from __future__ import annotations

import asyncio
import secrets
import weakref
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, Field

from db import chat_sessions as chats_db
from db import organizations as orgs_db
from db import workflows as workflows_db
from runtime.contract import EndCall, HandedOff, SendDtmf, TextDelta, ToolCalled, TransferCall
from runtime.models import model_config_for
from runtime.sessions import WorkflowSession, create_session
from runtime.validation import validate_definition
from runtime.workflow import Workflow
from server.api import ApiContext, Router
from server.coordination.rate_limit import Rule, limit_organization
from server.errors import ApiError, not_found
from server.json_body import INT32_MAX

router = Router(tags=["workflows"])
CHAT_TTL_SECONDS = 30 * 60
MAX_CHAT_SESSIONS_PER_ORG = 20
MAX_CHAT_TURNS = 50


@dataclass
class ChatStore:
    """This process's per-session locks (the sessions themselves are in PostgreSQL)."""

    locks: weakref.WeakValueDictionary[str, asyncio.Lock] = field(
        default_factory=weakref.WeakValueDictionary)

    def lock(self, session_id: str) -> asyncio.Lock:
        found = self.locks.get(session_id)
        if found is None:
            found = self.locks[session_id] = asyncio.Lock()
        return found


def _too_many(owned: int) -> ApiError:
    return ApiError(429, "too_many_sessions",
                    f"the organization has {owned} open chat sessions (at most "
                    f"{MAX_CHAT_SESSIONS_PER_ORG}); idle ones expire after "
                    f"{CHAT_TTL_SECONDS // 60} minutes", headers={"Retry-After": "60"})


class ChatIn(BaseModel):
    session_id: str | None = Field(default=None, description="Omit to start a new session")
    message: str | None = Field(
        default=None, max_length=4_000,
        description="The caller's words; omit on a new session to get just the greeting",
    )
    version: int | None = Field(default=None, ge=1, le=INT32_MAX,
                                description="Published version to run; omitted: the draft")
    variables: dict[str, str] = Field(default_factory=dict, max_length=100,
                                      description="Call input variables")


class ToolCallOut(BaseModel):
    name: str
    arguments: dict[str, Any]
    result: str
    error: str | None


class HandoffOut(BaseModel):
    from_node: str
    to_node: str


class ChatOut(BaseModel):
    session_id: str
    reply: str
    node: str = Field(description="The active node after this turn")
    engine: str = Field(description="openai, openai-compatible or offline-scripted")
    tool_calls: list[ToolCallOut]
    handoffs: list[HandoffOut]
    ended: bool = Field(description="The agent ended the conversation")
    transfer_to: str | None = None
    dtmf: list[str] = Field(default_factory=list)


def _store(ctx: ApiContext) -> ChatStore:
    if ctx.services.chat_store is None:
        ctx.services.chat_store = ChatStore()
    store: ChatStore = ctx.services.chat_store
    return store


async def _check_plan(ctx: ApiContext) -> None:
    org = await orgs_db.get(ctx.db, ctx.caller.organization_id)
    if org is None or not ctx.services.plans.get(org["plan"]).allows_calls:
        plan = org["plan"] if org else "none"
        raise ApiError(403, "plan_suspended",
                       f"the organization's plan ({plan}) does not allow calls or chats")


async def _definition(ctx: ApiContext, body: ChatIn) -> tuple[dict[str, Any], int | None]:
    org, workflow_id = ctx.caller.organization_id, ctx.path["workflow_id"]
    if body.version is None:
        found = await workflows_db.definition_for_call(ctx.db, org, workflow_id, draft=True)
        definition, version = found if found else (None, None)
    else:
        row = await workflows_db.get_version(ctx.db, org, workflow_id, body.version)
        definition, version = (row["definition"], row["version"]) if row else (None, None)
    if definition is None:
        raise not_found("workflow" if body.version is None else "workflow version")
    problems = validate_definition(definition)
    if problems:
        raise ApiError(422, "workflow_invalid", "the workflow cannot run until it is valid",
                       [p.to_json() for p in problems])
    return definition, version


async def _session(ctx: ApiContext, definition: dict[str, Any], version: int | None,
                   variables: dict[str, str]) -> WorkflowSession:  # fmt: skip
    """The agent session over ``definition`` with the organization's keys and secrets."""
    from server.calls.setup import load_call_providers, load_tool_secrets

    org, workflow_id = ctx.caller.organization_id, ctx.path["workflow_id"]
    _, credentials = await load_call_providers(ctx.services, org)
    secrets_for_tools = await load_tool_secrets(ctx.services, org)
    llm = Workflow.model_validate(definition).settings.llm
    return create_session(
        definition, variables=variables,
        model=model_config_for(llm, credentials.openai, egress=credentials.egress),
        workflow_id=str(workflow_id) if version else None, version=version,
        secrets=secrets_for_tools,
        egress=ctx.services.egress,
    )  # fmt: skip


@router.post(
    "/api/v1/workflows/{workflow_id:uuid}/chat", body=ChatIn, response=ChatOut,
    errors=[409, 429],
    summary="Chat with a workflow over text to test it: runs the same agent runtime as calls "
            "(draft by default, or a published version) and returns the reply, the active "
            "node, tool calls and handoffs",
    description=f"Sessions are stored server-side (any instance continues them), expire after "
                f"{CHAT_TTL_SECONDS // 60} minutes idle "
                "and are bound to the organization and workflow. At most "
                f"{MAX_CHAT_SESSIONS_PER_ORG} open sessions per organization (429 with "
                f"Retry-After) and {MAX_CHAT_TURNS} turns per session (409 `chat_too_long`); "
                "403 `plan_suspended` when the organization's plan allows no calls; 409 "
                "`conversation_ended` after the agent ended the conversation; 409 `chat_busy` "
                "when another turn of the session ran at the same time.",
)
async def chat(ctx: ApiContext) -> ChatOut:
    await limit_organization(ctx, Rule.CHAT_ORG)
    body: ChatIn = ctx.body
    await _check_plan(ctx)
    org, workflow_id = ctx.caller.organization_id, ctx.path["workflow_id"]
    if body.session_id is None:
        owned = await chats_db.count_live(ctx.db, org)
        if owned >= MAX_CHAT_SESSIONS_PER_ORG:
            raise _too_many(owned)
        definition, version = await _definition(ctx, body)
        session = await _session(ctx, definition, version, body.variables)
        session_id = "chat_" + secrets.token_urlsafe(18)
        out = await _turn(session, session_id, body.message)
        created = await chats_db.create(
            ctx.db, session_id, org, workflow_id, version=version, definition=definition,
            variables=body.variables, state=session.snapshot(),
            turns=0 if body.message is None else 1, ttl_seconds=CHAT_TTL_SECONDS,
            max_per_org=MAX_CHAT_SESSIONS_PER_ORG,
        )  # fmt: skip
        if not created:  # others started sessions meanwhile
            raise _too_many(MAX_CHAT_SESSIONS_PER_ORG)
        return out
    session_id = body.session_id
    async with _store(ctx).lock(session_id):
        row = await chats_db.get(ctx.db, org, workflow_id, session_id)
        if row is None:
            raise not_found("chat session")
        turns = row.turns
        if body.message is not None:
            if turns >= MAX_CHAT_TURNS:
                raise ApiError(409, "chat_too_long", f"a chat session holds at most "
                               f"{MAX_CHAT_TURNS} turns; start a new session")
            turns += 1
        session = await _session(ctx, row.definition, row.workflow_version, row.variables)
        session.restore(row.state)
        out = await _turn(session, session_id, body.message)
        saved = await chats_db.save(ctx.db, org, session_id, revision=row.revision,
                                    state=session.snapshot(), turns=turns,
                                    ttl_seconds=CHAT_TTL_SECONDS)  # fmt: skip
        if not saved:
            raise ApiError(409, "chat_busy", "another turn of this chat session ran at the same "
                           "time; send the message again")
        return out


async def _turn(session: WorkflowSession, session_id: str, message: str | None) -> ChatOut:
    out = ChatOut(session_id=session_id, reply="", node=session.current_node,
                  engine=session.info.engine, tool_calls=[], handoffs=[], ended=session.ended)
    if message is None:
        out.reply = session.greeting() or ""
        return out
    if session.ended:
        raise ApiError(409, "conversation_ended", "the agent ended this conversation")
    parts: list[str] = []
    async for event in session.respond(message):
        if isinstance(event, TextDelta):
            parts.append(event.text)
        elif isinstance(event, ToolCalled):
            out.tool_calls.append(ToolCallOut(name=event.name, arguments=event.arguments,
                                              result=event.result, error=event.error))
        elif isinstance(event, HandedOff):
            out.handoffs.append(HandoffOut(from_node=event.from_node, to_node=event.to_node))
        elif isinstance(event, TransferCall):
            out.transfer_to = event.to
        elif isinstance(event, SendDtmf):
            out.dtmf.append(event.digits)
        elif isinstance(event, EndCall):
            out.ended = True
    out.reply = "".join(parts)
    out.node = session.current_node
    return out
