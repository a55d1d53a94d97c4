"""Text chat with a workflow: the same agent runtime as calls, without audio.

Chat sessions live in this process's memory (a ``ChatStore`` in
``services.chat_store``), keyed by an unguessable id, bound to one organization
and workflow, and dropped after ``CHAT_TTL_SECONDS`` idle (or when the process restarts).
Turns of one session run one at a time. Behind a load balancer, use sticky sessions for
this endpoint.

Bounds: at most ``MAX_CHAT_SESSIONS`` per process and ``MAX_CHAT_SESSIONS_PER_ORG`` per
organization (429 with ``Retry-After``); a session holds at most ``MAX_CHAT_TURNS`` caller
turns (then 409 ``chat_too_long``: start a new session), which bounds its history; an
organization whose plan allows no calls (``suspended``) cannot chat either (403).
"""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from pydantic import BaseModel, Field

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
MAX_CHAT_SESSIONS = 1_000
MAX_CHAT_SESSIONS_PER_ORG = 20
MAX_CHAT_TURNS = 50


@dataclass
class ChatSession:
    organization_id: UUID
    workflow_id: UUID
    session: WorkflowSession
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    last_used: float = field(default_factory=time.monotonic)
    turns: int = 0


@dataclass
class ChatStore:
    """This process's chat sessions, with the per-process and per-organization caps."""

    sessions: dict[str, ChatSession] = field(default_factory=dict)

    def expire(self, now: float) -> None:
        for key in [k for k, v in self.sessions.items() if now - v.last_used > CHAT_TTL_SECONDS]:
            del self.sessions[key]

    def admit(self, organization_id: UUID) -> None:
        """429 when the process or the organization has no room for another session."""
        retry = {"Retry-After": "60"}
        if len(self.sessions) >= MAX_CHAT_SESSIONS:
            raise ApiError(429, "too_many_sessions", "too many chat sessions; retry later",
                           headers=retry)
        owned = sum(1 for s in self.sessions.values() if s.organization_id == organization_id)
        if owned >= MAX_CHAT_SESSIONS_PER_ORG:
            raise ApiError(429, "too_many_sessions",
                           f"the organization has {owned} open chat sessions (at most "
                           f"{MAX_CHAT_SESSIONS_PER_ORG}); idle ones expire after "
                           f"{CHAT_TTL_SECONDS // 60} minutes", headers=retry)


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
    store.expire(time.monotonic())
    return store


async def _check_plan(ctx: ApiContext) -> None:
    org = await orgs_db.get(ctx.db, ctx.caller.organization_id)
    if org is None or not ctx.services.plans.get(org["plan"]).allows_calls:
        plan = org["plan"] if org else "none"
        raise ApiError(403, "plan_suspended",
                       f"the organization's plan ({plan}) does not allow calls or chats")


async def _new_session(ctx: ApiContext, body: ChatIn) -> ChatSession:
    org, workflow_id = ctx.caller.organization_id, ctx.path["workflow_id"]
    if body.version is None:
        found = await workflows_db.definition_for_call(ctx.db, org, workflow_id, draft=True)
        definition, version = found if found else (None, None)
    else:
        row = await workflows_db.get_version(ctx.db, org, workflow_id, body.version)
        definition, version = (row["definition"], row["version"]) if row else (None, None)
    if definition is None:
        raise not_found("workflow" if body.version is None else "workflow version")
    from server.calls.setup import load_call_providers, load_tool_secrets

    _, credentials = await load_call_providers(ctx.services, org)
    secrets_for_tools = await load_tool_secrets(ctx.services, org)
    problems = validate_definition(definition)
    if problems:
        raise ApiError(422, "workflow_invalid", "the workflow cannot run until it is valid",
                       [p.to_json() for p in problems])
    llm = Workflow.model_validate(definition).settings.llm
    session = create_session(
        definition, variables=body.variables,
        model=model_config_for(llm, credentials.openai, egress=credentials.egress),
        workflow_id=str(workflow_id) if version else None, version=version,
        secrets=secrets_for_tools,
        egress=ctx.services.egress,
    )
    return ChatSession(org, workflow_id, session)


@router.post(
    "/api/v1/workflows/{workflow_id:uuid}/chat", body=ChatIn, response=ChatOut,
    errors=[409, 429],
    summary="Chat with a workflow over text to test it: runs the same agent runtime as calls "
            "(draft by default, or a published version) and returns the reply, the active "
            "node, tool calls and handoffs",
    description=f"Sessions are in-memory, expire after {CHAT_TTL_SECONDS // 60} minutes idle "
                "and are bound to the organization and workflow. At most "
                f"{MAX_CHAT_SESSIONS_PER_ORG} open sessions per organization (429 with "
                f"Retry-After) and {MAX_CHAT_TURNS} turns per session (409 `chat_too_long`); "
                "403 `plan_suspended` when the organization's plan allows no calls; 409 "
                "`conversation_ended` after the agent ended the conversation.",
)
async def chat(ctx: ApiContext) -> ChatOut:
    await limit_organization(ctx, Rule.CHAT_ORG)
    body: ChatIn = ctx.body
    await _check_plan(ctx)
    store = _store(ctx)
    if body.session_id is None:
        store.admit(ctx.caller.organization_id)
        chat_session = await _new_session(ctx, body)
        session_id = "chat_" + secrets.token_urlsafe(18)
        store.admit(ctx.caller.organization_id)  # others may have started sessions meanwhile
        store.sessions[session_id] = chat_session
    else:
        session_id = body.session_id
        found = store.sessions.get(session_id)
        if (found is None or found.organization_id != ctx.caller.organization_id
                or found.workflow_id != ctx.path["workflow_id"]):
            raise not_found("chat session")
        chat_session = found
    async with chat_session.lock:
        chat_session.last_used = time.monotonic()
        if body.message is not None:
            if chat_session.turns >= MAX_CHAT_TURNS:
                raise ApiError(409, "chat_too_long", f"a chat session holds at most "
                               f"{MAX_CHAT_TURNS} turns; start a new session")
            chat_session.turns += 1
        return await _turn(chat_session.session, session_id, body.message)


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
