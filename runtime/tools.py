"""Workflow tools as openai-agents function tools, and the per-call context they act on.

HTTP tools call the configured URL with the model's arguments (query string for GET, JSON
body otherwise) under a hard timeout, through the call's egress policy (runtime/egress.py:
non-public addresses refused, no redirects). A refusal, timeout or HTTP error becomes a
short error result the model can talk about, never an exception that kills the turn. Built-ins only record an
intent on the ``CallContext`` (``end_call``, ``transfer_call``, ``send_dtmf``, ``opt_out``); the session
turns those into contract events.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx
from agents import FunctionTool, RunContextWrapper
from agents.tool_context import ToolContext
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError, best_match

from runtime.egress import EgressPolicy, EgressRefused
from runtime.workflow import (
    TEMPLATE_RE,
    EndCallTool,
    HttpTool,
    OptOutTool,
    SendDtmfTool,
    TransferCallTool,
)

MAX_RESULT_CHARS = 4_000
_DTMF_RE = re.compile(r"^[0-9*#wW]{1,32}$")


@dataclass(slots=True)
class ToolRecord:
    name: str
    arguments: dict[str, Any]
    result: str
    error: str | None = None


@dataclass
class CallContext:
    """Per-session state the compiled agents and tools see as the run context."""

    variables: dict[str, str]
    engine: str
    secrets: dict[str, str] = field(default_factory=dict)
    end_requested: bool = False
    transfer_to: str | None = None
    dtmf: list[str] = field(default_factory=list)
    opt_out_requested: bool = False
    tool_records: dict[str, ToolRecord] = field(default_factory=dict)
    egress: EgressPolicy = field(default_factory=EgressPolicy)  # refuses non-public hosts
    language: str | None = None  # the call's BCP-47 language (None: the workflow's)


def _fill(text: str, ctx: CallContext, *, url: bool = False) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        raw = ctx.secrets.get(name[7:], "") if name.startswith("secret.") else (
            ctx.variables.get(name, "")
        )
        return quote(raw, safe="") if url else raw

    return TEMPLATE_RE.sub(value, text)


def _record(tool_ctx: ToolContext[Any], name: str, args: dict[str, Any], result: str,
            error: str | None = None) -> str:
    context: CallContext = tool_ctx.context
    context.tool_records[tool_ctx.tool_call_id] = ToolRecord(name, args, result, error)
    return result


def _parse_args(raw: str) -> dict[str, Any]:
    try:
        parsed = json.loads(raw or "{}")
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def argument_problem(validator: Draft202012Validator, args: dict[str, Any]) -> str | None:
    """Why ``args`` do not fit the tool's declared JSON schema (None when they do)."""
    try:
        error = best_match(validator.iter_errors(args))
    except SchemaError:  # a version stored before schemas were checked at publish
        return "the tool's parameters schema is not a valid JSON schema"
    if error is None:
        return None
    where = "/".join(str(p) for p in error.absolute_path)
    return f"{'/' + where + ': ' if where else ''}{error.message[:200]}"


def http_function_tool(spec: HttpTool) -> FunctionTool:
    validator = Draft202012Validator(spec.parameters)

    async def invoke(tool_ctx: ToolContext[Any], raw_args: str) -> str:
        ctx: CallContext = tool_ctx.context
        args = _parse_args(raw_args)
        problem = argument_problem(validator, args)
        if problem is not None:  # the model's arguments never reach the tenant's endpoint
            return _record(tool_ctx, spec.name, args, f"error: invalid arguments: {problem}",
                           "invalid_arguments")
        url = _fill(spec.url, ctx, url=True)
        headers = {k: _fill(v, ctx) for k, v in spec.headers.items()}
        request: dict[str, Any] = {"headers": headers}
        if spec.method == "GET" or spec.method == "DELETE":
            request["params"] = {k: v if isinstance(v, str) else json.dumps(v)
                                 for k, v in args.items()}
        else:
            request["json"] = args
        try:
            # A client per call: tool calls are rare, and nothing outlives the session. The
            # egress policy checks the address it connects to; redirects are not followed.
            async with ctx.egress.client(timeout=spec.timeout_seconds) as client:
                response = await client.request(spec.method, url, **request)
        except EgressRefused as exc:
            return _record(tool_ctx, spec.name, args, f"error: {exc}", "blocked_destination")
        except httpx.TimeoutException:
            msg = f"the {spec.name} tool timed out after {spec.timeout_seconds:g} seconds"
            return _record(tool_ctx, spec.name, args, f"error: {msg}", "timeout")
        except httpx.HTTPError as exc:
            msg = f"the {spec.name} tool could not be reached"
            return _record(tool_ctx, spec.name, args, f"error: {msg}", type(exc).__name__)
        body = response.text[:MAX_RESULT_CHARS]
        if response.status_code >= 400:
            return _record(tool_ctx, spec.name, args,
                           f"error: HTTP {response.status_code}: {body[:500]}",
                           f"http_{response.status_code}")
        return _record(tool_ctx, spec.name, args, body)

    return FunctionTool(
        name=spec.name,
        description=spec.description,
        params_json_schema=spec.parameters,
        on_invoke_tool=invoke,
        strict_json_schema=False,
    )


def end_call_tool(spec: EndCallTool) -> FunctionTool:
    async def invoke(tool_ctx: ToolContext[Any], raw_args: str) -> str:
        tool_ctx.context.end_requested = True
        return _record(tool_ctx, spec.name, _parse_args(raw_args),
                       "The call will end after your reply; say a short goodbye.")

    return FunctionTool(
        name=spec.name, description=spec.description, on_invoke_tool=invoke,
        params_json_schema={"type": "object", "properties": {}, "additionalProperties": False},
    )


def transfer_call_tool(spec: TransferCallTool) -> FunctionTool:
    # The destination is fixed by the workflow: the model never chooses where a call goes.
    async def invoke(tool_ctx: ToolContext[Any], raw_args: str) -> str:
        tool_ctx.context.transfer_to = spec.destination
        return _record(tool_ctx, spec.name, _parse_args(raw_args),
                       "Transfer started; tell the caller they are being transferred.")

    return FunctionTool(
        name=spec.name, description=spec.description, on_invoke_tool=invoke,
        params_json_schema={"type": "object", "properties": {}, "additionalProperties": False},
    )


def send_dtmf_tool(spec: SendDtmfTool) -> FunctionTool:
    async def invoke(tool_ctx: ToolContext[Any], raw_args: str) -> str:
        args = _parse_args(raw_args)
        digits = str(args.get("digits", ""))
        if not _DTMF_RE.match(digits):
            return _record(tool_ctx, spec.name, args, "error: digits must be 0-9, * or #",
                           "invalid_digits")
        tool_ctx.context.dtmf.append(digits)
        return _record(tool_ctx, spec.name, args, f"sent {digits}")

    return FunctionTool(
        name=spec.name, description=spec.description, on_invoke_tool=invoke,
        params_json_schema={
            "type": "object",
            "properties": {"digits": {"type": "string", "description": "0-9, * and #"}},
            "required": ["digits"],
            "additionalProperties": False,
        },
    )


def opt_out_tool(spec: OptOutTool) -> FunctionTool:
    # Only the intent is recorded (a tool turn): the server lists the number once the call
    # has ended (server/campaigns/opt_out.py), never from inside the agent run.
    async def invoke(tool_ctx: ToolContext[Any], raw_args: str) -> str:
        tool_ctx.context.opt_out_requested = True
        return _record(tool_ctx, spec.name, _parse_args(raw_args),
                       "Noted: this number will not be called again. Confirm it to the person.")

    return FunctionTool(
        name=spec.name, description=spec.description, on_invoke_tool=invoke,
        params_json_schema={"type": "object", "properties": {}, "additionalProperties": False},
    )


def function_tool_for(spec: Any) -> FunctionTool:
    builders = {
        "http": http_function_tool,
        "end_call": end_call_tool,
        "transfer_call": transfer_call_tool,
        "send_dtmf": send_dtmf_tool,
        "opt_out": opt_out_tool,
    }
    return builders[spec.type](spec)


def context_of(wrapper: RunContextWrapper[Any]) -> CallContext:
    return wrapper.context
