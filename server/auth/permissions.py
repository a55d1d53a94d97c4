"""The permission matrix: the one place that says which role each API route needs.

``Endpoint`` (server/api.py) asks ``required_role(method, path)`` for every authenticated
request. Members read; admins change the organization's configuration and act on calls
(placing, transferring, DTMF, hanging up, browser calls, and chat, which runs HTTP tools
with the organization's secrets); owners manage roles. ``public`` routes take no token.
The README's permission table is generated from ``MATRIX`` (``markdown_table``) and a test
checks that they agree and that every route of the app is listed here.

A handler may be stricter than its row (e.g. removing an owner needs an owner; any member
may remove themselves, i.e. leave): the matrix gives the minimum to get in.
"""

from __future__ import annotations

from typing import Literal

Access = Literal["public", "member", "admin", "owner"]
MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})

_V1 = "/api/v1"
_WF = f"{_V1}/workflows/{{workflow_id:uuid}}"

MATRIX: dict[tuple[str, str], Access] = {
    # identity: the caller's own account
    ("POST", f"{_V1}/auth/signup"): "public",
    ("POST", f"{_V1}/auth/login"): "public",
    ("POST", f"{_V1}/auth/refresh"): "public",
    ("POST", f"{_V1}/auth/logout"): "public",
    ("GET", f"{_V1}/auth/me"): "member",
    ("POST", f"{_V1}/auth/password"): "member",
    ("POST", f"{_V1}/auth/logout-all"): "member",
    ("POST", f"{_V1}/auth/switch-organization"): "member",
    ("POST", f"{_V1}/invitations/accept"): "member",
    # the organization, members, invitations, audit log
    ("GET", f"{_V1}/organization"): "member",
    ("PATCH", f"{_V1}/organization"): "admin",
    ("GET", f"{_V1}/organization/members"): "member",
    ("POST", f"{_V1}/organization/members"): "admin",
    ("GET", f"{_V1}/organization/invitations"): "admin",
    ("PATCH", f"{_V1}/organization/members/{{user_id:uuid}}"): "owner",
    ("DELETE", f"{_V1}/organization/members/{{user_id:uuid}}"): "member",  # leave; else admin
    ("GET", f"{_V1}/audit-log"): "admin",
    # API keys and secrets
    ("POST", f"{_V1}/api-keys"): "admin",
    ("GET", f"{_V1}/api-keys"): "admin",
    ("DELETE", f"{_V1}/api-keys/{{key_id:uuid}}"): "admin",
    ("GET", f"{_V1}/provider-credentials"): "member",
    ("GET", f"{_V1}/provider-credentials/{{provider}}"): "member",
    ("PUT", f"{_V1}/provider-credentials/{{provider}}"): "admin",
    ("DELETE", f"{_V1}/provider-credentials/{{provider}}"): "admin",
    ("GET", f"{_V1}/provider-settings"): "member",
    ("PUT", f"{_V1}/provider-settings"): "admin",
    ("GET", f"{_V1}/tool-secrets"): "admin",
    ("PUT", f"{_V1}/tool-secrets/{{name}}"): "admin",
    ("DELETE", f"{_V1}/tool-secrets/{{name}}"): "admin",
    # workflows
    ("POST", f"{_V1}/workflows"): "admin",
    ("GET", f"{_V1}/workflows"): "member",
    ("POST", f"{_V1}/workflows/import"): "admin",
    ("GET", _WF): "member",
    ("PATCH", _WF): "admin",
    ("POST", f"{_WF}/validate"): "member",  # read-only: checks the draft, changes nothing
    ("POST", f"{_WF}/publish"): "admin",
    ("GET", f"{_WF}/versions"): "member",
    ("GET", f"{_WF}/versions/{{version:int}}"): "member",
    ("POST", f"{_WF}/rollback"): "admin",
    ("POST", f"{_WF}/duplicate"): "admin",
    ("POST", f"{_WF}/archive"): "admin",
    ("GET", f"{_WF}/export"): "member",
    ("DELETE", _WF): "admin",
    ("GET", f"{_V1}/workflow-templates"): "member",
    ("POST", f"{_WF}/chat"): "admin",  # runs HTTP tools with the organization's secrets
    # customer webhooks (URLs and delivery payloads: admins only)
    ("POST", f"{_V1}/webhooks"): "admin",
    ("GET", f"{_V1}/webhooks"): "admin",
    ("GET", f"{_V1}/webhooks/{{webhook_id:uuid}}"): "admin",
    ("PATCH", f"{_V1}/webhooks/{{webhook_id:uuid}}"): "admin",
    ("DELETE", f"{_V1}/webhooks/{{webhook_id:uuid}}"): "admin",
    ("GET", f"{_V1}/webhooks/{{webhook_id:uuid}}/deliveries"): "admin",
    # telephony configuration
    ("POST", f"{_V1}/carriers"): "admin",
    ("GET", f"{_V1}/carriers"): "member",
    ("GET", f"{_V1}/carriers/{{account_id:uuid}}"): "member",
    ("PATCH", f"{_V1}/carriers/{{account_id:uuid}}"): "admin",
    ("DELETE", f"{_V1}/carriers/{{account_id:uuid}}"): "admin",
    ("POST", f"{_V1}/phone-numbers"): "admin",
    ("GET", f"{_V1}/phone-numbers"): "member",
    ("GET", f"{_V1}/phone-numbers/{{number_id:uuid}}"): "member",
    ("PATCH", f"{_V1}/phone-numbers/{{number_id:uuid}}"): "admin",
    ("DELETE", f"{_V1}/phone-numbers/{{number_id:uuid}}"): "admin",
    # calls: members read; placing and controlling calls is admin
    ("POST", f"{_V1}/calls"): "admin",
    ("POST", f"{_V1}/calls/{{call_id:uuid}}/hangup"): "admin",
    ("POST", f"{_V1}/calls/{{call_id:uuid}}/transfer"): "admin",
    ("POST", f"{_V1}/calls/{{call_id:uuid}}/dtmf"): "admin",
    ("GET", f"{_V1}/calls"): "member",
    ("GET", f"{_V1}/calls/events"): "member",
    ("GET", f"{_V1}/calls/{{call_id:uuid}}"): "member",
    ("GET", f"{_V1}/calls/{{call_id:uuid}}/recording"): "member",
    ("DELETE", f"{_V1}/calls/{{call_id:uuid}}/recording"): "admin",
    ("GET", f"{_V1}/calls/{{call_id:uuid}}/webhook-deliveries"): "admin",  # URLs: as webhooks
    # campaigns: members read progress and results; creating, importing and controlling
    # (which places calls) is admin; the do-not-call list is read by members, changed by admins
    ("POST", f"{_V1}/campaigns"): "admin",
    ("GET", f"{_V1}/campaigns"): "member",
    ("GET", f"{_V1}/campaigns/{{campaign_id:uuid}}"): "member",
    ("POST", f"{_V1}/campaigns/{{campaign_id:uuid}}/start"): "admin",
    ("POST", f"{_V1}/campaigns/{{campaign_id:uuid}}/pause"): "admin",
    ("POST", f"{_V1}/campaigns/{{campaign_id:uuid}}/resume"): "admin",
    ("POST", f"{_V1}/campaigns/{{campaign_id:uuid}}/cancel"): "admin",
    ("POST", f"{_V1}/campaigns/{{campaign_id:uuid}}/contacts"): "admin",
    ("GET", f"{_V1}/campaigns/{{campaign_id:uuid}}/contacts"): "member",
    ("GET", f"{_V1}/campaigns/{{campaign_id:uuid}}/results.csv"): "member",
    ("POST", f"{_V1}/do-not-call"): "admin",
    ("GET", f"{_V1}/do-not-call"): "member",
    ("GET", f"{_V1}/do-not-call/{{phone_number}}"): "member",
    ("DELETE", f"{_V1}/do-not-call/{{phone_number}}"): "admin",
    ("GET", f"{_V1}/usage"): "member",
    # Stripe billing: buying and managing the subscription, and its invoices, are admin
    ("POST", f"{_V1}/billing/checkout"): "admin",
    ("POST", f"{_V1}/billing/portal"): "admin",
    ("GET", f"{_V1}/billing/invoices"): "admin",
    # plans and the organization's billing state: every member reads (docs/BILLING.md)
    ("GET", f"{_V1}/plans"): "member",
    ("GET", f"{_V1}/billing"): "member",
    ("GET", f"{_V1}/console/summary"): "member",  # the console's home numbers
    # browser calls run the workflow (tools, secrets, provider spend): admin
    ("GET", f"{_V1}/webrtc/ice-servers"): "admin",
    ("POST", f"{_V1}/webrtc/offer"): "admin",
    ("PATCH", f"{_V1}/webrtc/offer"): "admin",
    # the demo order service the order-status template's HTTP tool calls (fake data)
    ("GET", "/demo/orders"): "public",
    ("GET", "/demo/orders/{order_number}"): "public",
}

_RANK: dict[str, int] = {"public": 0, "member": 1, "admin": 2, "owner": 3}


def required_role(method: str, path: str, declared: str = "member") -> Access:
    """The minimum role for ``method path`` (the route's template). A route missing from the
    matrix (a test fails on it) falls back to its declared role, and to at least admin
    when it changes something: unknown routes fail closed, not open."""
    access = MATRIX.get((method, path))
    if access is not None:
        return access
    fallback: Access = declared if declared in _RANK else "admin"  # type: ignore[assignment]
    if method in MUTATING and _RANK[fallback] < _RANK["admin"]:
        return "admin"
    return fallback


def markdown_table() -> str:
    """The README's permission table: route x owner/admin/member."""
    lines = ["| Route | owner | admin | member |", "| --- | :-: | :-: | :-: |"]
    for (method, path), access in MATRIX.items():
        if access == "public":
            cells = ["public"] * 3
        else:
            cells = ["yes" if _RANK[role] >= _RANK[access] else "—"
                     for role in ("owner", "admin", "member")]  # fmt: skip
        lines.append(f"| `{method} {path}` | " + " | ".join(cells) + " |")
    return "\n".join(lines)
