"""Starter workflow definitions: the templates ``GET /api/v1/workflow-templates`` lists and
``POST /api/v1/workflows {"template": ...}`` starts from, plus ``order_desk`` (docs, tests).

Every template is valid, publishes, and runs offline (the scripted engine follows its edges
by the keywords, synonyms and quoted example phrases of their conditions — the examples also
bias the offline speech recogniser; ``say`` holds its fixed lines). The order-status template
calls the demo order service the server itself serves (``GET /demo/orders``), so it works
with no outside system; point its tool at your own order API to make it real.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

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
        {"from": "start", "to": "orders",
         "condition": 'The caller asks about an order, e.g. "where is my order", '
                      '"the status of my order", "I want to check my order", '
                      '"track a package"'},
        {"from": "start", "to": "billing",
         "condition": 'The caller has a billing question, e.g. "billing", '
                      '"a charge on my bill", "I need a refund"'},
        {"from": "orders", "to": "goodbye",
         "condition": 'The caller is done, thanks or says bye, e.g. "that is all, thank you"',
         "say": "Glad I could help."},
        {"from": "billing", "to": "goodbye",
         "condition": 'The caller is done, thanks or says bye, e.g. "that is all, thank you"'},
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


def demo_orders_url(public_url: str) -> str:
    """The order-status tool's URL: the server's own demo order service. The order number
    goes in the query string (``GET .../demo/orders?order_number=A1001``), which is how GET
    tools send their arguments; ``/demo/orders/{order_number}`` serves the same data."""
    return public_url.rstrip("/") + "/demo/orders"


def receptionist(public_url: str = "") -> dict[str, Any]:
    """Inbound receptionist: greets, books an appointment (name, day, time), confirms."""
    return {
        "global": "You are the receptionist of Bright Smile Dental. Be warm, brief and clear. "
                  "Office hours are Monday to Friday, 9am to 5pm.",
        "nodes": [
            {"id": "start", "type": "start", "name": "Greeting",
             "greeting": "Thank you for calling Bright Smile Dental. Would you like to book "
                         "an appointment, or do you have a question?",
             "prompt": "Find out whether the caller wants to book an appointment or has a "
                       "question about the office.",
             "say": "Would you like to book an appointment, or do you have a question?"},
            {"id": "booking", "type": "agent", "name": "Booking",
             "prompt": "Collect the caller's full name, the day and the time they prefer "
                       "(within office hours) and the reason for the visit. Read the details "
                       "back and ask the caller to confirm.",
             "say": "Happy to book that. What is your name, and which day and time suit you?"},
            {"id": "questions", "type": "agent", "name": "Questions",
             "prompt": "Answer questions about hours and location (12 Main Street). Offer to "
                       "book an appointment.",
             "say": "We are open Monday to Friday, nine to five, at 12 Main Street.",
             "tools": ["end_call"]},
            {"id": "confirmed", "type": "end", "name": "Confirmed",
             "prompt": "Confirm the booking, remind them to arrive 10 minutes early, say bye.",
             "say": "You are booked. Please arrive ten minutes early. Goodbye!"},
        ],
        "edges": [
            {"from": "start", "to": "booking",
             "condition": 'The caller wants to book or schedule an appointment, e.g. '
                          '"I would like to book an appointment", "can I make an appointment", '
                          '"I need to see the dentist"'},
            {"from": "start", "to": "questions",
             "condition": 'The caller has a question about hours or location, e.g. '
                          '"when are you open", "what are your opening hours", '
                          '"where are you located"'},
            {"from": "questions", "to": "booking",
             "condition": "The caller wants to book an appointment after all"},
            {"from": "booking", "to": "confirmed",
             "condition": 'The caller confirmed the name, day and time, e.g. "yes that is right", '
                          '"correct"'},
        ],
        "variables": [
            {"name": "caller_name", "description": "The caller's full name", "required": True},
            {"name": "appointment_day", "description": "Day of the appointment"},
            {"name": "appointment_time", "description": "Time of the appointment"},
            {"name": "reason", "description": "Reason for the visit"},
        ],
        "settings": {"language": "en-US", "idle_timeout_seconds": 8,
                     "idle_prompts": ["Are you still there?"], "max_duration_seconds": 600},
    }


def order_status(public_url: str = "http://127.0.0.1:8000") -> dict[str, Any]:
    """Order status: asks for the order number, looks it up over HTTP, reads the status."""
    return {
        "global": "You are the order assistant of Acme Outfitters. Be brief and friendly. "
                  "Never guess an order's status: look it up.",
        "nodes": [
            {"id": "start", "type": "start", "name": "Greeting",
             "greeting": "Hi, this is Acme order support. What is your order number?",
             "prompt": "Ask for the order number, then look it up with lookup_order and tell "
                       "the caller its status and estimated delivery date.",
             "say": "Please tell me your order number.",
             "tools": ["lookup_order"]},
            {"id": "goodbye", "type": "end", "name": "Goodbye",
             "prompt": "Thank the caller and say goodbye.",
             "say": "Thanks for calling Acme. Goodbye!"},
        ],
        "edges": [
            {"from": "start", "to": "goodbye",
             "condition": 'The caller is done, thanks you or says bye, e.g. "that is all, thank you"'},
        ],
        "tools": [{
            "type": "http", "name": "lookup_order",
            "description": "Look up the status of an order by its order number",
            "method": "GET", "url": demo_orders_url(public_url),
            "parameters": {
                "type": "object",
                "properties": {"order_number": {"type": "string",
                                                "description": "The order number, e.g. 1001"}},
                "required": ["order_number"],
            },
            "timeout_seconds": 5,
        }],
        "variables": [{"name": "order_number", "description": "The order asked about"}],
    }


def lead_qualification(public_url: str = "") -> dict[str, Any]:
    """Outbound lead qualification: interest, budget, timeline; books a follow-up."""
    return {
        "global": "You are Alex, calling from Acme Cloud about the demo {{lead_name}} "
                  "requested. Be polite and brief; if they are busy, offer to call back.",
        "inputs": [
            {"name": "lead_name", "description": "The lead's first name", "default": "there"},
            {"name": "company", "description": "The lead's company", "default": "your team"},
        ],
        "nodes": [
            {"id": "start", "type": "start", "name": "Introduction",
             "greeting": "Hi {{lead_name}}, this is Alex from Acme Cloud. You asked about a "
                         "demo for {{company}}. Do you have two minutes?",
             "prompt": "Confirm you are speaking with {{lead_name}} and that they have time.",
             "say": "Do you have two minutes to talk about it?"},
            {"id": "qualify", "type": "agent", "name": "Qualify",
             "prompt": "Ask about the team size, the budget and when they want to start. "
                       "Do not push; note the answers.",
             "say": "Great. How big is the team, and when would you like to start?"},
            {"id": "book", "type": "end", "name": "Book follow-up",
             "prompt": "Offer a follow-up demo with a specialist, confirm, and say goodbye.",
             "say": "I will have a specialist send you a demo invitation. Thank you, bye!"},
            {"id": "not_now", "type": "end", "name": "Not interested",
             "prompt": "Thank them for their time and end politely.",
             "say": "No problem at all. Thanks for your time. Goodbye!"},
        ],
        "edges": [
            {"from": "start", "to": "qualify",
             "condition": 'The lead says yes, they have time to talk, e.g. "yes sure", '
                          '"okay go ahead", "I have a few minutes"'},
            {"from": "start", "to": "not_now",
             "condition": 'The lead is not interested, busy, or asks not to be called, e.g. '
                          '"no thanks", "I am busy at the moment", "not interested"'},
            {"from": "qualify", "to": "book",
             "condition": "The lead shared team size or start date and wants a demo"},
            {"from": "qualify", "to": "not_now",
             "condition": "The lead is not interested after all"},
        ],
        "variables": [
            {"name": "interested", "type": "boolean", "description": "Wants a demo",
             "required": True},
            {"name": "team_size", "type": "integer", "description": "People on the team"},
            {"name": "timeline", "description": "When they want to start"},
        ],
        "settings": {"language": "en-US", "max_duration_seconds": 300,
                     "voicemail": {"action": "message",
                                   "text": "Hi, this is Alex from Acme Cloud about your "
                                           "demo request. We will call back soon."}},
    }


TemplateName = Literal["receptionist", "order_status", "lead_qualification", "order_desk"]


@dataclass(frozen=True, slots=True)
class Template:
    name: TemplateName
    title: str
    description: str
    direction: Literal["inbound", "outbound"]
    build: Callable[[str], dict[str, Any]]  # public base URL -> definition


TEMPLATES: dict[str, Template] = {t.name: t for t in (
    Template("receptionist", "Receptionist and booking",
             "Answers the phone for a small office: books appointments (name, day, time, "
             "reason), answers questions about hours and location.", "inbound", receptionist),
    Template("order_status", "Order status",
             "Asks for an order number and reads its status from an HTTP order API (the "
             "server's demo order service until you point the tool at yours).", "inbound",
             order_status),
    Template("lead_qualification", "Lead qualification (outbound)",
             "Calls a lead who asked for a demo, qualifies interest, team size and timeline, "
             "and books a follow-up; leaves a voicemail message on machines.", "outbound",
             lead_qualification),
    Template("order_desk", "Order and billing desk",
             "A four-node order/billing desk with an HTTP order lookup (the order-status "
             "tool pointed at the demo order service).", "inbound",
             lambda url: order_desk(demo_orders_url(url))),
)}
