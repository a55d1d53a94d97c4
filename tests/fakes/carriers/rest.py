"""Fake REST APIs of Telnyx (Call Control v2), Plivo (Call API), Vonage (Voice API v1) and
Exotel (Calls connect) on 127.0.0.1. Each checks the carrier's authentication scheme,
records requests and answers with the carrier's response shape.

Dials: every create that places a call is in ``placed`` (carrier call id → request). Telnyx
ignores a Dial whose ``command_id`` it has seen (nothing is placed; the fake answers with the
first call's id, an answer Telnyx does not document); the others have no idempotent create:
each request places a call. ``stall`` (a predicate on the request) holds a create's answer
back after the call is placed, as when the dialer's connection dies mid-request."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import jwt
from aiohttp import web

from tests.fakes import LoopbackServer


@dataclass
class Recorded:
    method: str
    path: str
    body: Any  # parsed JSON or form dict

    def get(self, name: str) -> Any:
        return self.body.get(name) if isinstance(self.body, dict) else None


class FakeCarrierRest(LoopbackServer):
    """``auth`` checks the Authorization header; ``routes`` maps (method, path pattern) to a
    responder returning (status, JSON)."""

    def __init__(self, carrier: str, credentials: dict[str, str]) -> None:
        super().__init__()
        self.carrier = carrier
        self.credentials = credentials
        self.requests: list[Recorded] = []
        # the numbers the account holds (E.164); None: it holds whatever number is asked about
        # (a listing API that cannot be asked, Exotel's, then lists the ``held`` numbers)
        self.numbers: set[str] | None = None
        self.held: set[str] = set()
        self.placed: dict[str, Recorded] = {}  # calls placed: carrier call id -> the create
        self._commands: dict[str, str] = {}  # Telnyx Dial command_id -> call placed
        self.stall: Any = None  # predicate on a create: placed, its answer held back
        self.unstall = asyncio.Event()
        self.app.router.add_route("*", "/{tail:.*}", self._handle)

    def _authorized(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        c = self.credentials
        if self.carrier == "vonage" and request.path == "/account/numbers":  # key + secret
            expected = base64.b64encode(f"{c.get('api_key')}:{c.get('api_secret')}".encode()).decode()
            return header == f"Basic {expected}"
        if self.carrier == "telnyx":
            return header == f"Bearer {c['api_key']}"
        if self.carrier == "vonage":
            if not header.startswith("Bearer "):
                return False
            try:
                claims = jwt.decode(header[7:], c["public_key"], algorithms=["RS256"])
            except jwt.PyJWTError:
                return False
            return claims.get("application_id") == c["application_id"]
        if not header.startswith("Basic "):
            return False
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        if self.carrier == "plivo":
            return (user, password) == (c["auth_id"], c["auth_token"])
        return (user, password) == (c["api_key"], c["api_token"])  # exotel

    async def _handle(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return web.json_response({"error": "unauthorized"}, status=401)
        raw = await request.text()
        if request.content_type == "application/json" and raw:
            body: Any = json.loads(raw)
        else:
            body = dict(parse_qsl(raw))
        recorded = Recorded(request.method, request.path, body)
        self.requests.append(recorded)
        if request.method == "GET":
            listed = self._numbers(request)
            if listed is not None:
                return listed
        command = recorded.get("command_id") if self.carrier == "telnyx" else None
        new_id = self._commands.get(command) if command else None
        response = self._respond(request.method, request.path, new_id)
        if self._creates(request.method, request.path) and new_id is None:
            placed = self._placed_id(response)
            self.placed[placed] = recorded
            if command:
                self._commands[command] = placed
            if self.stall is not None and self.stall(recorded):
                with contextlib.suppress(TimeoutError):  # the dialer never hears back
                    await asyncio.wait_for(self.unstall.wait(), 30)
        return response

    def _creates(self, method: str, path: str) -> bool:
        creates = ("/v2/calls", "/v1/calls")
        return method == "POST" and (path in creates or path.endswith(("/Call/", "/Calls/connect.json")))

    def _placed_id(self, response: web.Response) -> str:
        assert isinstance(response.body, bytes)
        data = json.loads(response.body)
        if self.carrier == "telnyx":
            return str(data["data"]["call_control_id"])
        if self.carrier == "plivo":
            return str(data["request_uuid"])
        if self.carrier == "vonage":
            return str(data["uuid"])
        return str(data["Call"]["Sid"])

    def dialed(self, to: str) -> list[Recorded]:
        """The calls placed to ``to`` (E.164; each carrier's own number format accepted)."""
        bare = to.lstrip("+")
        return [r for r in self.placed.values() if _to(r).lstrip("+") == bare]

    def hold(self, number: str) -> None:
        """The account holds ``number`` (E.164) from now on."""
        self.held.add(number)

    def _holds(self, number: str) -> bool:
        return self.numbers is None or number in self.numbers or number in self.held

    def _numbers(self, request: web.Request) -> web.Response | None:
        """Each carrier's "numbers of this account" API, in its wire format."""
        path, query = request.path, request.query
        if self.carrier == "telnyx" and path == "/v2/phone_numbers":
            asked = query.get("filter[phone_number]", "")
            data = [{"id": "1", "record_type": "phone_number", "phone_number": asked,
                     "status": "active"}] if asked and self._holds(asked) else []  # fmt: skip
            return web.json_response({"data": data, "meta": {"total_results": len(data)}})
        if self.carrier == "plivo" and "/Number/" in path:
            digits = path.rstrip("/").rsplit("/", 1)[1]
            if not self._holds("+" + digits):
                return web.json_response({"api_id": "x", "error": "not found"}, status=404)
            return web.json_response({"api_id": "x", "number": digits, "number_type": "local"})
        if self.carrier == "vonage" and path == "/account/numbers":
            asked = query.get("pattern", "")
            numbers = [{"country": "US", "msisdn": asked, "type": "mobile-lvn"}] if asked and self._holds(
                "+" + asked) else []  # fmt: skip
            return web.json_response({"count": len(numbers), "numbers": numbers})
        if self.carrier == "exotel" and path.endswith("/IncomingPhoneNumbers"):
            held = sorted((self.numbers or set()) | self.held)
            return web.json_response({"page": 0, "page_size": 50, "incoming_phone_numbers": [
                {"sid": f"n{i}", "phone_number": n, "capabilities": {"voice": True}}
                for i, n in enumerate(held)]})  # fmt: skip
        return None

    def _respond(self, method: str, path: str, same: str | None = None) -> web.Response:
        new_id = uuid.uuid4().hex
        if same is not None:  # a Telnyx Dial with a command_id seen: no new call
            return web.json_response({"data": {"call_control_id": same, "record_type": "call"}})
        if self.carrier == "telnyx" and path == "/v2/calls":
            return web.json_response({"data": {"call_control_id": "v3:" + new_id,
                                               "record_type": "call"}})  # fmt: skip
        if self.carrier == "plivo" and method == "POST" and path.endswith("/Call/"):
            return web.json_response({"api_id": new_id, "message": "call fired",
                                      "request_uuid": new_id}, status=201)  # fmt: skip
        if self.carrier == "plivo" and method == "DELETE":
            return web.Response(status=204)
        if self.carrier == "vonage" and path == "/v1/calls":
            return web.json_response({"uuid": new_id, "status": "started",
                                      "direction": "outbound"}, status=201)  # fmt: skip
        if self.carrier == "exotel" and path.endswith("/Calls/connect.json"):
            return web.json_response({"Call": {"Sid": new_id, "Status": "in-progress"}})
        if self.carrier == "vonage":
            return web.Response(status=204)
        return web.json_response({"data": {"result": "ok"}} if self.carrier == "telnyx" else {})


def _to(request: Recorded) -> str:
    """The number a create dials, in any carrier's request shape."""
    to = request.get("to") or request.get("From") or ""  # Exotel dials ``From`` first
    if isinstance(to, list):  # Vonage: [{"type": "phone", "number": ...}]
        to = to[0].get("number", "") if to else ""
    return str(to)
