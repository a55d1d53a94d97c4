"""Starter workflow definitions (offered when creating a workflow, used in docs and tests)."""

from __future__ import annotations

import copy
from typing import Any

_ORDER_DESK: dict[str, Any] = {
    "global": "You are the phone assistant of Acme Outfitters. Be brief and friendly.",
    "inputs": [{"name": "caller_name", "description": "Caller's first name", "default": "there"}],
    "nodes": [
        {
            "id": "start",
            "type": "start",
            "name": "Greeting",
            "greeting": "Hi {{caller_name}}, this is Acme. Is this about an order or billing?",
            "prompt": "Find out whether the caller needs help with an order or with billing.",
            "say": "Is this about an order or about billing?",
        },
        {
            "id": "orders",
            "type": "agent",
            "name": "Orders",
            "prompt": "Ask for the order number, then look it up with lookup_order.",
            "say": "Sure. What is your order number?",
            "tools": ["lookup_order"],
        },
        {
            "id": "billing",
            "type": "agent",
            "name": "Billing",
            "prompt": "Help with the billing question; offer a human if needed.",
            "say": "I can help with billing. What is the charge you are asking about?",
            "tools": ["end_call"],
        },
        {
            "id": "goodbye",
            "type": "end",
            "name": "Goodbye",
            "prompt": "Thank the caller and say goodbye.",
            "say": "Thanks for calling Acme. Goodbye!",
        },
    ],
    "edges": [
        {"from": "start", "to": "orders", "condition": "The caller asks about an order"},
        {"from": "start", "to": "billing", "condition": "The caller has a billing question"},
        {"from": "orders", "to": "goodbye", "condition": "The caller is done, thanks or says bye",
         "say": "Glad I could help."},
        {"from": "billing", "to": "goodbye", "condition": "The caller is done, thanks or says bye"},
    ],
    "tools": [
        {
            "type": "http",
            "name": "lookup_order",
            "description": "Look up the status of an order by its order number",
            "method": "GET",
            "url": "http://127.0.0.1:9/orders",
            "parameters": {
                "type": "object",
                "properties": {"order_number": {"type": "string", "description": "Order number"}},
                "required": ["order_number"],
            },
            "timeout_seconds": 5,
        }
    ],
    "variables": [
        {"name": "order_number", "type": "string", "description": "The order number", },
        {"name": "topic", "type": "string", "description": "orders or billing", "required": True},
    ],
}


def order_desk(tool_url: str | None = None) -> dict[str, Any]:
    """A four-node order/billing desk: start -> orders|billing -> goodbye, one HTTP tool."""
    definition = copy.deepcopy(_ORDER_DESK)
    if tool_url is not None:
        definition["tools"][0]["url"] = tool_url
    return definition
