"""Stripe's wire format for the fake Stripe (``stripe_server.py``): form decoding, the error
envelope, webhook signatures, and the fake's records."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

PARAMS = web.RequestKey("params", dict)  # the request's decoded parameters

API_VERSION = "2025-09-30.clover"


def signature(body: bytes, secret: str, timestamp: int | None = None) -> str:
    """The ``Stripe-Signature`` header Stripe sends: HMAC-SHA256 of ``"<t>.<body>"``."""
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


def unflatten(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """``a[b][0][c]=v`` pairs into nested dicts, numeric-keyed dicts into lists."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        parts = re.findall(r"[^\[\]]+", key)
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return _lists(root)  # type: ignore[return-value]


def _lists(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    converted = {k: _lists(v) for k, v in node.items()}
    if converted and all(k.isdigit() for k in converted):
        return [converted[k] for k in sorted(converted, key=int)]
    return converted


class StripeError(Exception):
    def __init__(self, status: int, message: str, *, code: str | None = None,
                 param: str | None = None, type_: str = "invalid_request_error") -> None:  # fmt: skip
        super().__init__(message)
        self.status, self.message, self.code, self.param, self.type = (
            status, message, code, param, type_)  # fmt: skip

    def response(self) -> web.Response:
        body = {"error": {"type": self.type, "message": self.message, "code": self.code,
                          "param": self.param}}  # fmt: skip
        return web.json_response(body, status=self.status)


def missing(kind: str, ident: str, param: str = "id") -> StripeError:
    return StripeError(404, f"No such {kind}: '{ident}'", code="resource_missing", param=param)


@dataclass
class Failure:
    method: str
    path: str
    status: int
    after_effect: bool


@dataclass
class Call:
    method: str
    path: str
    params: dict[str, Any]
    idempotency_key: str | None
    status: int = 0


@dataclass
class MeterEvent:
    event_name: str
    identifier: str
    customer: str
    value: float
    timestamp: int


@dataclass
class Stored:
    status: int
    body: dict[str, Any]


@dataclass
class FakeStripeState:
    customers: dict[str, dict[str, Any]] = field(default_factory=dict)
    prices: dict[str, dict[str, Any]] = field(default_factory=dict)
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    subscriptions: dict[str, dict[str, Any]] = field(default_factory=dict)
    invoices: dict[str, dict[str, Any]] = field(default_factory=dict)
    meters: dict[str, dict[str, Any]] = field(default_factory=dict)
    meter_events: list[MeterEvent] = field(default_factory=list)
    portal_sessions: list[dict[str, Any]] = field(default_factory=list)
