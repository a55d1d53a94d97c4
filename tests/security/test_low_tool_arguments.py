"""Low finding: HTTP tool arguments were not validated against the tool's declared schema.

A workflow's tool ``parameters`` must be a valid JSON schema (checked at validation, with a
pointer), and at run time the model's arguments must fit it before anything is sent: a
call with missing or wrongly typed arguments gets a tool error and no request reaches the
tenant's endpoint.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from agents.tool_context import ToolContext
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from runtime.egress import EgressPolicy
from runtime.templates import order_status
from runtime.tools import CallContext, http_function_tool
from runtime.validation import validate_definition
from runtime.workflow import Workflow

pytestmark = pytest.mark.unit

ORIGIN = "https://orders.example.com"


def _lookup_tool():
    definition = order_status(ORIGIN)
    return Workflow.model_validate(definition).tools[0]


async def _invoke(raw_args: str) -> tuple[str, list[dict[str, Any]], CallContext]:
    seen: list[dict[str, Any]] = []

    async def orders(request: Request) -> JSONResponse:
        seen.append(dict(request.query_params))
        return JSONResponse({"order_number": request.query_params.get("order_number"),
                             "status": "shipped"})

    app = Starlette(routes=[Route("/demo/orders", orders)])
    ctx = CallContext(variables={}, engine="test",
                      egress=EgressPolicy(in_process={ORIGIN + "/demo/": app}))
    tool = http_function_tool(_lookup_tool())
    tool_ctx = ToolContext(ctx, tool_name=tool.name, tool_call_id="call-1", tool_arguments=raw_args)
    result = await tool.on_invoke_tool(tool_ctx, raw_args)
    return result, seen, ctx


async def test_arguments_that_fit_the_schema_are_sent():
    result, seen, _ = await _invoke(json.dumps({"order_number": "1001"}))
    assert seen == [{"order_number": "1001"}]
    assert '"shipped"' in result


@pytest.mark.parametrize("raw", ["{}", json.dumps({"order_number": 1001}), "not json",
                                 json.dumps({"order_number": {"$gt": ""}})])
async def test_arguments_that_do_not_fit_are_refused_before_any_request(raw):
    result, seen, ctx = await _invoke(raw)
    assert seen == []
    assert result.startswith("error: invalid arguments")
    assert ctx.tool_records["call-1"].error == "invalid_arguments"


def test_a_tool_schema_that_is_not_a_json_schema_is_a_problem_with_a_pointer():
    definition = order_status(ORIGIN)
    definition["tools"][0]["parameters"]["properties"]["order_number"]["type"] = "text"
    problems = validate_definition(definition)
    pointers = {(p.pointer, p.code) for p in problems}
    assert ("/tools/0/parameters/properties/order_number/type", "invalid_schema") in pointers
