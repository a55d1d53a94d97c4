"""Workflow validation: every problem kind is reported, all at once, with a JSON pointer."""

from __future__ import annotations

import pytest

from runtime.templates import order_desk
from runtime.validation import WorkflowInvalid, parse_workflow, validate_definition


def _codes(definition: dict) -> set[tuple[str, str]]:
    return {(p.code, p.pointer) for p in validate_definition(definition)}


def test_starter_template_is_valid() -> None:
    assert validate_definition(order_desk()) == []
    workflow = parse_workflow(order_desk())
    assert workflow.start.id == "start"
    assert [e.target for e in workflow.edges_from("start")] == ["orders", "billing"]


def test_every_graph_problem_is_reported_at_once_with_pointers() -> None:
    d = order_desk()
    d["nodes"].append({"id": "orphan", "type": "agent", "prompt": "never reached"})  # /nodes/4
    d["nodes"].append({"id": "loop", "type": "agent"})  # /nodes/5: reachable, no way out
    d["edges"].append({"from": "start", "to": "loop", "condition": "caller loops"})  # /edges/4
    d["edges"].append({"from": "orders", "to": "nowhere", "condition": "x"})  # /edges/5
    d["nodes"][1]["tools"].append("launch_rocket")  # /nodes/1/tools/1
    d["nodes"][2]["prompt"] = "Hello {{account_id}}"  # undeclared variable
    d["tools"].append(dict(d["tools"][0]))  # /tools/1 duplicate name
    d["edges"].append({"from": "goodbye", "to": "start", "condition": "again"})  # /edges/6
    codes = _codes(d)
    assert ("unreachable", "/nodes/4") in codes
    assert ("no_path_to_end", "/nodes/5") in codes
    assert ("missing_node", "/edges/5/to") in codes
    assert ("unknown_tool", "/nodes/1/tools/1") in codes
    assert ("undeclared_variable", "/nodes/2/prompt") in codes
    assert ("duplicate_name", "/tools/1/name") in codes
    assert ("edge_from_end", "/edges/6/from") in codes
    # The valid parts raise nothing: the start node itself is fine.
    assert not any(p == "/nodes/0" for _, p in codes)
    with pytest.raises(WorkflowInvalid) as exc:
        parse_workflow(d)
    assert len(exc.value.problems) == len(codes)


def test_duplicate_node_ids_and_start_count() -> None:
    d = order_desk()
    d["nodes"].append({"id": "orders", "type": "start", "greeting": "again"})
    codes = _codes(d)
    assert ("duplicate_name", "/nodes/4/id") in codes
    assert ("start_count", "/nodes") in codes


def test_no_end_anywhere() -> None:
    d = {"nodes": [{"id": "start", "type": "start", "prompt": "hi"}]}
    assert ("no_end", "/nodes") in _codes(d)
    d["nodes"][0]["tools"] = ["end_call"]  # a node that may end the call is an end
    assert validate_definition(d) == []


def test_shape_errors_point_into_the_document() -> None:
    d = order_desk()
    d["nodes"][2]["type"] = "robot"
    d["nodes"][3]["id"] = "Bad Id"
    d["tools"][0]["timeout_seconds"] = 0
    pointers = {p.pointer for p in validate_definition(d)}
    assert {"/nodes/2/type", "/nodes/3/id", "/tools/0/timeout_seconds"} <= pointers
    assert validate_definition([1, 2])[0].pointer == ""


def test_transfer_needs_a_declared_destination() -> None:
    d = order_desk()
    d["nodes"][2]["tools"].append("transfer_call")
    problems = [p for p in validate_definition(d) if p.code == "unknown_tool"]
    assert [p.pointer for p in problems] == ["/nodes/2/tools/1"]
    assert "destination" in problems[0].message
    d["tools"].append({"type": "transfer_call", "destination": "+15550001111"})
    assert validate_definition(d) == []


def test_secret_templates_allowed_in_tool_headers_only() -> None:
    d = order_desk()
    d["tools"][0]["headers"] = {"Authorization": "Bearer {{secret.orders_token}}"}
    assert validate_definition(d) == []
    d["tools"][0]["headers"]["X-Caller"] = "{{caller_phone}}"
    assert ("undeclared_variable", "/tools/0/headers/X-Caller") in _codes(d)
    d["nodes"][0]["prompt"] = "{{secret.orders_token}}"
    assert ("undeclared_variable", "/nodes/0/prompt") in _codes(d)


def test_call_settings_accept_voicemail_policy_and_reject_unknown_keys() -> None:
    d = order_desk()
    d["settings"] = {"voicemail": {"action": "message", "text": "Call us back."},
                     "idle_timeout_seconds": 8}
    assert validate_definition(d) == []
    d["settings"]["volume"] = 11
    assert [p.pointer for p in validate_definition(d)] == ["/settings/volume"]
