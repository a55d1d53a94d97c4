"""A fake Twilio REST API (the 2010-04-01 Calls resource) on 127.0.0.1.

Speaks the wire protocol the official ``twilio`` SDK uses: form-encoded POSTs with HTTP
Basic auth (account SID + auth token), JSON call resources back, Twilio's error JSON
(``code``/``message``/``status``) on failures. Every request is recorded so tests can
assert what the server asked Twilio to do; ``wait_for`` lets a test await a request.

Idempotent dials: a create carrying an ``I-Twilio-Idempotency-Token`` already seen answers
with the call that token created (nothing is dialed again). The fake counts the calls that
are up (created, not yet ``finish``-ed or hung up) and keeps the highest count in
``max_active``; ``create_delay`` and ``stall`` (a predicate: the call is created, the answer
never comes) let tests widen races and simulate a dialer dying mid-request.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from tests.fakes import LoopbackServer


@dataclass
class RecordedRequest:
    method: str
    path: str
    form: dict[str, list[str]]
    idempotency_token: str | None = None

    def get(self, name: str) -> str | None:
        values = self.form.get(name)
        return values[0] if values else None


@dataclass
class FakeCall:
    sid: str
    to: str
    from_: str
    status: str = "queued"
    params: dict[str, list[str]] = field(default_factory=dict)
    twiml_updates: list[str] = field(default_factory=list)


class FakeTwilioRest(LoopbackServer):
    """``async with FakeTwilioRest(sid, token) as fake:`` then point the SDK at
    ``fake.http_url`` (setting ``TWILIO_API_BASE_URL``)."""

    def __init__(self, account_sid: str, auth_token: str) -> None:
        super().__init__()
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.requests: list[RecordedRequest] = []
        self.calls: dict[str, FakeCall] = {}
        self._changed = asyncio.Condition()
        base = "/2010-04-01/Accounts/{account}"
        self.app.router.add_post(base + "/Calls.json", self._create)
        self.app.router.add_post(base + "/Calls/{sid}.json", self._update)
        self.app.router.add_get(base + "/Calls/{sid}.json", self._fetch)
        self.app.router.add_get(base + "/IncomingPhoneNumbers.json", self._incoming_numbers)
        # the numbers the account holds (E.164); None: it holds whatever number is asked about
        self.numbers: set[str] | None = None
        self.by_token: dict[str, FakeCall] = {}
        self.active: set[str] = set()
        self.max_active = 0
        self.create_delay = 0.0
        self.stall: Any = None  # predicate on the RecordedRequest: never answer it
        self.unstall = asyncio.Event()  # set: stalled requests answer (their client is gone)

    def dialed(self, to: str) -> list[FakeCall]:
        """The calls placed to ``to`` (each idempotent create counted once)."""
        return [c for c in self.calls.values() if c.to == to]

    def finish(self, sid: str, status: str = "completed") -> None:
        """The call ended on the carrier's side (the test sends its status callback)."""
        self.calls[sid].status = status
        self.active.discard(sid)

    # -- helpers for tests ----------------------------------------------------------------
    async def wait_for(self, predicate: Any, timeout: float = 10) -> RecordedRequest:
        """Wait until a recorded request satisfies ``predicate`` and return it."""

        async def _wait() -> RecordedRequest:
            async with self._changed:
                while True:
                    for request in self.requests:
                        if predicate(request):
                            return request
                    await self._changed.wait()

        return await asyncio.wait_for(_wait(), timeout)

    # -- handlers -------------------------------------------------------------------------
    def _error(self, status: int, code: int, message: str) -> web.Response:
        body = {"code": code, "message": message, "more_info": "", "status": status}
        return web.json_response(body, status=status)

    def _authorized(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return False
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        return user == self.account_sid and password == self.auth_token

    async def _record(self, request: web.Request) -> RecordedRequest:
        form: dict[str, list[str]] = {}
        for key, value in parse_qsl(await request.text(), keep_blank_values=True):
            form.setdefault(key, []).append(value)
        token = request.headers.get("I-Twilio-Idempotency-Token")
        recorded = RecordedRequest(request.method, request.path, form, token)
        async with self._changed:
            self.requests.append(recorded)
            self._changed.notify_all()
        return recorded

    def _resource(self, call: FakeCall) -> dict[str, Any]:
        return {
            "sid": call.sid,
            "account_sid": self.account_sid,
            "to": call.to,
            "from": call.from_,
            "status": call.status,
            "direction": "outbound-api",
            "api_version": "2010-04-01",
            "uri": f"/2010-04-01/Accounts/{self.account_sid}/Calls/{call.sid}.json",
        }

    async def _create(self, request: web.Request) -> web.Response:
        if request.match_info["account"] != self.account_sid or not self._authorized(request):
            return self._error(401, 20003, "Authenticate")
        recorded = await self._record(request)
        to, from_ = recorded.get("To"), recorded.get("From")
        if not to or not from_:
            return self._error(400, 21201, "No 'To' number is specified")
        if not recorded.get("Url") and not recorded.get("Twiml"):
            return self._error(400, 21205, "Url parameter is required")
        if recorded.idempotency_token and recorded.idempotency_token in self.by_token:
            call = self.by_token[recorded.idempotency_token]  # the same call, not a new dial
        else:
            call = FakeCall("CA" + secrets.token_hex(16), to, from_, params=recorded.form)
            self.calls[call.sid] = call
            if recorded.idempotency_token:
                self.by_token[recorded.idempotency_token] = call
            self.active.add(call.sid)
            self.max_active = max(self.max_active, len(self.active))
        if self.create_delay:
            await asyncio.sleep(self.create_delay)
        if self.stall is not None and self.stall(recorded):
            with contextlib.suppress(TimeoutError):  # the dialer never hears back
                await asyncio.wait_for(self.unstall.wait(), 30)
        return web.json_response(self._resource(call), status=201)

    async def _update(self, request: web.Request) -> web.Response:
        if request.match_info["account"] != self.account_sid or not self._authorized(request):
            return self._error(401, 20003, "Authenticate")
        recorded = await self._record(request)
        call = self.calls.get(request.match_info["sid"])
        if call is None:
            return self._error(404, 20404, "The requested resource was not found")
        if recorded.get("Status") in ("completed", "canceled"):
            call.status = str(recorded.get("Status"))
            self.active.discard(call.sid)
        if recorded.get("Twiml"):
            call.twiml_updates.append(str(recorded.get("Twiml")))
        return web.json_response(self._resource(call))

    async def _fetch(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._error(401, 20003, "Authenticate")
        call = self.calls.get(request.match_info["sid"])
        if call is None:
            return self._error(404, 20404, "The requested resource was not found")
        return web.json_response(self._resource(call))

    def add_call(self, sid: str, to: str, from_: str, status: str = "in-progress") -> FakeCall:
        """Register a call that exists on Twilio (e.g. an inbound one) so updates find it."""
        call = FakeCall(sid, to, from_, status)
        self.calls[sid] = call
        return call

    async def _incoming_numbers(self, request: web.Request) -> web.Response:
        """``IncomingPhoneNumbers`` filtered by ``PhoneNumber`` (Twilio's list page shape)."""
        if request.match_info["account"] != self.account_sid or not self._authorized(request):
            return self._error(401, 20003, "Authenticate")
        asked = request.query.get("PhoneNumber", "")
        held = (self.numbers is None and bool(asked)) or asked in (self.numbers or ())
        records = [{"sid": "PN" + secrets.token_hex(16), "account_sid": self.account_sid,
                    "phone_number": asked, "friendly_name": asked}] if held else []  # fmt: skip
        uri = f"/2010-04-01/Accounts/{self.account_sid}/IncomingPhoneNumbers.json"
        return web.json_response({"incoming_phone_numbers": records, "page": 0, "page_size": 50,
                                  "start": 0, "end": max(0, len(records) - 1), "uri": uri,
                                  "first_page_uri": uri, "next_page_uri": None,
                                  "previous_page_uri": None})  # fmt: skip
