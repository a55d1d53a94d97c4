"""A fake Stripe API on 127.0.0.1, for the real ``stripe`` SDK (``STRIPE_API_BASE``).

Why not ``localstripe`` (evaluated, not a dependency): its 1.15 release has no Prices (only the
legacy Plans), no Checkout Sessions, no Customer Portal, no Billing Meters or meter events,
ignores ``Idempotency-Key``, and pickles its one global store to ``/tmp/localstripe.pickle``
on every write (shared by every test run on the machine). This fake covers exactly what
Switchboard calls, speaking Stripe's wire format: form-encoded requests with bracketed keys
(``line_items[0][price]``), JSON answers carrying ``object``, list envelopes, the error
envelope ``{"error": {type, code, message, param}}``, Bearer API keys, and idempotency keys
(the first answer to a key is replayed to every later request with it).

    async with FakeStripe() as fake:
        pro = fake.add_price("price_pro", unit_amount=4900)
        fake.add_meter("switchboard_call_minutes")
        client = stripe.StripeClient(fake.api_key, base_addresses={"api": fake.http_url})

Test controls (Python, not HTTP): ``complete_checkout`` (the customer paid: a subscription
and a paid invoice exist), ``set_subscription_status``, ``add_invoice``, ``fail_next`` (the
next request to a path fails; ``after_effect=True`` lets it take effect first, like a
response lost on the way back), ``event(type, obj)`` builds an event and
``signature(body, secret)`` signs it the way Stripe does (``t=...,v1=...``).
"""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

from aiohttp import web

from tests.fakes import LoopbackServer
from tests.fakes.stripe_wire import (
    API_VERSION,
    PARAMS,
    Call,
    Failure,
    FakeStripeState,
    MeterEvent,
    Stored,
    StripeError,
    missing,
    new_id,
    signature,
    unflatten,
)

__all__ = ["API_VERSION", "FakeStripe", "signature"]


class FakeStripe(LoopbackServer):
    def __init__(self, api_key: str = "sk_test_fake_switchboard") -> None:
        super().__init__()
        self.api_key = api_key
        self.state = FakeStripeState()
        self.calls: list[Call] = []
        self.failures: list[Failure] = []
        self._idempotent: dict[str, Stored] = {}
        self._clock = 0
        r = self.app.router
        r.add_post("/v1/customers", self._create_customer)
        r.add_get("/v1/customers/{id}", self._get("customers", "customer"))
        r.add_get("/v1/prices/{id}", self._get("prices", "price"))
        r.add_post("/v1/checkout/sessions", self._create_checkout)
        r.add_get("/v1/checkout/sessions/{id}", self._get("sessions", "checkout.session"))
        r.add_post("/v1/billing_portal/sessions", self._create_portal)
        r.add_get("/v1/subscriptions", self._list_subscriptions)
        r.add_get("/v1/subscriptions/{id}", self._get("subscriptions", "subscription"))
        r.add_get("/v1/invoices", self._list_invoices)
        r.add_get("/v1/billing/meters", self._list_meters)
        r.add_post("/v1/billing/meter_events", self._create_meter_event)
        r.add_get("/v1/billing/meters/{id}/event_summaries", self._event_summaries)
        self.app.middlewares.append(self._middleware)

    # --- plumbing ---------------------------------------------------------------------------
    def _now(self) -> int:
        # strictly increasing 'created', so "newest first" is well defined within a second
        self._clock = max(self._clock + 1, int(time.time()))
        return self._clock

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if request.method == "POST":
            form = await request.post()
            params = unflatten([(k, str(v)) for k, v in form.items()])
        else:
            params = unflatten(list(request.query.items()))
        key = request.headers.get("Idempotency-Key")
        call = Call(request.method, request.path, params, key)
        self.calls.append(call)
        request[PARAMS] = params
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            call.status = 401
            return StripeError(401, "Invalid API Key provided", type_="invalid_request_error"
                               ).response()  # fmt: skip
        failure = next((f for f in self.failures
                        if f.method == request.method and f.path == request.path), None)  # fmt: skip
        if failure is not None:
            self.failures.remove(failure)
        if failure is not None and not failure.after_effect:
            call.status = failure.status
            return StripeError(failure.status, "fake failure", type_="api_error").response()
        replay = self._idempotent.get(key) if key and request.method == "POST" else None
        if replay is not None:
            response = web.json_response(replay.body, status=replay.status)
            response.headers["Idempotent-Replayed"] = "true"
        else:
            try:
                body = await handler(request)
                response = web.json_response(body)
            except StripeError as exc:
                response = exc.response()
            if key and request.method == "POST":
                self._idempotent[key] = Stored(response.status, json.loads(response.text or "{}"))
        if failure is not None:  # it took effect; the answer is lost on the way back
            call.status = failure.status
            return StripeError(failure.status, "fake failure after effect", type_="api_error"
                               ).response()  # fmt: skip
        call.status = response.status
        return response

    def _get(self, table: str, kind: str) -> Any:
        async def handler(request: web.Request) -> dict[str, Any]:
            found = getattr(self.state, table).get(request.match_info["id"])
            if found is None:
                raise missing(kind, request.match_info["id"])
            return found

        return handler

    @staticmethod
    def _list(url: str, data: list[dict[str, Any]], limit: Any = 10) -> dict[str, Any]:
        n = int(limit or 10)
        return {"object": "list", "url": url, "has_more": len(data) > n, "data": data[:n]}

    @staticmethod
    def _required(params: dict[str, Any], name: str) -> Any:
        value = params.get(name)
        if value in (None, ""):
            raise StripeError(400, f"Missing required param: {name}.", code="parameter_missing",
                              param=name)  # fmt: skip
        return value

    def _customer(self, ident: str, param: str = "customer") -> dict[str, Any]:
        customer = self.state.customers.get(ident)
        if customer is None:
            raise missing("customer", ident, param)
        return customer

    # --- API --------------------------------------------------------------------------------
    async def _create_customer(self, request: web.Request) -> dict[str, Any]:
        p = request[PARAMS]
        customer = {"id": new_id("cus"), "object": "customer", "created": self._now(),
                    "name": p.get("name"), "email": p.get("email"),
                    "metadata": p.get("metadata", {}), "livemode": False}  # fmt: skip
        self.state.customers[customer["id"]] = customer
        return customer

    async def _create_checkout(self, request: web.Request) -> dict[str, Any]:
        p = request[PARAMS]
        if self._required(p, "mode") != "subscription":
            raise StripeError(400, "only subscription mode is faked", param="mode")
        self._customer(self._required(p, "customer"))
        items = self._required(p, "line_items")
        for i, item in enumerate(items):
            price = self.state.prices.get(item.get("price", ""))
            if price is None:
                raise missing("price", item.get("price", ""), f"line_items[{i}][price]")
            metered = price["recurring"]["usage_type"] == "metered"
            if metered and "quantity" in item:
                raise StripeError(400, "Quantity should not be specified where usage_type is "
                                  "`metered`.", param=f"line_items[{i}][quantity]")  # fmt: skip
            if not metered and "quantity" not in item:
                raise StripeError(400, "Quantity is required.", param=f"line_items[{i}][quantity]")
        self._required(p, "success_url")
        ident = new_id("cs_test")
        session = {
            "id": ident, "object": "checkout.session", "mode": "subscription",
            "customer": p["customer"], "client_reference_id": p.get("client_reference_id"),
            "metadata": p.get("metadata", {}), "success_url": p["success_url"],
            "cancel_url": p.get("cancel_url"), "status": "open", "payment_status": "unpaid",
            "subscription": None, "url": f"https://checkout.stripe.com/c/pay/{ident}",
            "created": self._now(), "livemode": False,
            "_line_items": items, "_subscription_data": p.get("subscription_data", {}),
        }  # fmt: skip
        self.state.sessions[ident] = session
        return {k: v for k, v in session.items() if not k.startswith("_")}

    async def _create_portal(self, request: web.Request) -> dict[str, Any]:
        p = request[PARAMS]
        self._customer(self._required(p, "customer"))
        session = {"id": new_id("bps"), "object": "billing_portal.session",
                   "customer": p["customer"], "return_url": p.get("return_url"),
                   "url": f"https://billing.stripe.com/p/session/test_{secrets.token_hex(8)}",
                   "created": self._now(), "livemode": False}  # fmt: skip
        self.state.portal_sessions.append(session)
        return session

    async def _list_subscriptions(self, request: web.Request) -> dict[str, Any]:
        p = request[PARAMS]
        status = p.get("status")
        subs = [s for s in self.state.subscriptions.values()
                if (not p.get("customer") or s["customer"] == p["customer"])
                and (status == "all" or (status is None and s["status"] != "canceled")
                     or s["status"] == status)]  # fmt: skip
        subs.sort(key=lambda s: -s["created"])
        return self._list("/v1/subscriptions", subs, p.get("limit"))

    async def _list_invoices(self, request: web.Request) -> dict[str, Any]:
        p = request[PARAMS]
        found = [i for i in self.state.invoices.values()
                 if not p.get("customer") or i["customer"] == p["customer"]]  # fmt: skip
        found.sort(key=lambda i: -i["created"])
        return self._list("/v1/invoices", found, p.get("limit"))

    async def _list_meters(self, request: web.Request) -> dict[str, Any]:
        p = request[PARAMS]
        meters = [m for m in self.state.meters.values()
                  if not p.get("status") or m["status"] == p["status"]]  # fmt: skip
        return self._list("/v1/billing/meters", meters, p.get("limit"))

    async def _create_meter_event(self, request: web.Request) -> dict[str, Any]:
        p = request[PARAMS]
        name = self._required(p, "event_name")
        if not any(m["event_name"] == name and m["status"] == "active"
                   for m in self.state.meters.values()):  # fmt: skip
            raise StripeError(400, f"No active meter found for event_name '{name}'.",
                              param="event_name")  # fmt: skip
        payload = self._required(p, "payload")
        customer = payload.get("stripe_customer_id", "")
        self._customer(customer, "payload[stripe_customer_id]")
        try:
            value = float(payload.get("value", ""))
        except ValueError:
            raise StripeError(400, "payload[value] must be a number",
                              param="payload[value]") from None  # fmt: skip
        identifier = p.get("identifier") or new_id("mev")
        timestamp = int(p.get("timestamp") or time.time())
        if not any(e.identifier == identifier for e in self.state.meter_events):
            # Stripe keeps one event per identifier (a repeat is dropped, not summed)
            self.state.meter_events.append(MeterEvent(name, identifier, customer, value, timestamp))
        return {"object": "billing.meter_event", "event_name": name, "identifier": identifier,
                "payload": payload, "timestamp": timestamp, "created": self._now(),
                "livemode": False}  # fmt: skip

    async def _event_summaries(self, request: web.Request) -> dict[str, Any]:
        p = request[PARAMS]
        meter = self.state.meters.get(request.match_info["id"])
        if meter is None:
            raise missing("billing.meter", request.match_info["id"])
        customer = self._required(p, "customer")
        start, end = int(self._required(p, "start_time")), int(self._required(p, "end_time"))
        total = sum(e.value for e in self.state.meter_events
                    if e.event_name == meter["event_name"] and e.customer == customer
                    and start <= e.timestamp < end)  # fmt: skip
        summary = {"id": new_id("mtrusg"), "object": "billing.meter_event_summary",
                   "aggregated_value": total, "start_time": start, "end_time": end,
                   "meter": meter["id"], "livemode": False}  # fmt: skip
        return self._list(f"/v1/billing/meters/{meter['id']}/event_summaries", [summary])

    # --- test controls ----------------------------------------------------------------------
    def add_price(self, ident: str, *, unit_amount: int = 4900, metered: bool = False
                  ) -> dict[str, Any]:  # fmt: skip
        price = {"id": ident, "object": "price", "active": True, "currency": "usd",
                 "product": new_id("prod"), "type": "recurring",
                 "unit_amount": 0 if metered else unit_amount,
                 "recurring": {"interval": "month", "usage_type": "metered" if metered
                               else "licensed"}, "livemode": False}  # fmt: skip
        self.state.prices[ident] = price
        return price

    def add_meter(self, event_name: str) -> dict[str, Any]:
        meter = {"id": new_id("mtr"), "object": "billing.meter", "event_name": event_name,
                 "status": "active", "display_name": event_name,
                 "default_aggregation": {"formula": "sum"},
                 "customer_mapping": {"event_payload_key": "stripe_customer_id",
                                      "type": "by_id"},
                 "value_settings": {"event_payload_key": "value"}, "livemode": False}  # fmt: skip
        self.state.meters[meter["id"]] = meter
        return meter

    def complete_checkout(self, session_id: str, *, status: str = "active") -> dict[str, Any]:
        """The customer paid: the session completes with a new subscription and a paid
        invoice. Returns the session (the ``checkout.session.completed`` object)."""
        session = self.state.sessions[session_id]
        created = self._now()
        # a period starts at the real time (``created`` may run ahead of it: see ``_now``)
        now = min(created, int(time.time()))
        sub_id = new_id("sub")
        items = [{"id": new_id("si"), "object": "subscription_item",
                  "price": self.state.prices[item["price"]],
                  "quantity": int(item["quantity"]) if "quantity" in item else None,
                  "current_period_start": now, "current_period_end": now + 30 * 86_400}
                 for item in session["_line_items"]]  # fmt: skip
        self.state.subscriptions[sub_id] = {
            "id": sub_id, "object": "subscription", "customer": session["customer"],
            "status": status, "created": created, "cancel_at_period_end": False,
            "metadata": session["_subscription_data"].get("metadata", {}),
            "items": {"object": "list", "data": items, "has_more": False,
                      "url": f"/v1/subscription_items?subscription={sub_id}"},
            "livemode": False,
        }  # fmt: skip
        session.update(status="complete", payment_status="paid", subscription=sub_id)
        base = next((i for i in items if i["quantity"] is not None), items[0])
        self.add_invoice(session["customer"], subscription=sub_id,
                         amount=int(base["price"]["unit_amount"]), status="paid")  # fmt: skip
        return {k: v for k, v in session.items() if not k.startswith("_")}

    def set_subscription_status(self, sub_id: str, status: str) -> dict[str, Any]:
        sub = self.state.subscriptions[sub_id]
        sub["status"] = status
        return sub

    def add_invoice(self, customer: str, *, subscription: str | None = None, amount: int = 4900,
                    status: str = "open") -> dict[str, Any]:  # fmt: skip
        now = self._now()
        ident = new_id("in")
        invoice = {"id": ident, "object": "invoice", "customer": customer,
                   "subscription": subscription, "status": status, "currency": "usd",
                   "number": f"SB-{len(self.state.invoices) + 1:04d}",
                   "amount_due": amount, "amount_paid": amount if status == "paid" else 0,
                   "total": amount, "period_start": now - 30 * 86_400, "period_end": now,
                   "created": now, "hosted_invoice_url": f"https://invoice.stripe.com/i/{ident}",
                   "livemode": False}  # fmt: skip
        self.state.invoices[ident] = invoice
        return invoice

    def fail_next(self, method: str, path: str, *, status: int = 500,
                  after_effect: bool = False) -> None:  # fmt: skip
        self.failures.append(Failure(method, path, status, after_effect))

    def event(self, event_type: str, obj: dict[str, Any]) -> dict[str, Any]:
        """An event as Stripe sends it (a snapshot of ``obj`` now)."""
        snapshot = json.loads(json.dumps({k: v for k, v in obj.items()
                                          if not k.startswith("_")}))  # fmt: skip
        return {"id": new_id("evt"), "object": "event", "api_version": API_VERSION,
                "created": self._now(), "data": {"object": snapshot}, "livemode": False,
                "pending_webhooks": 1, "request": {"id": None, "idempotency_key": None},
                "type": event_type}  # fmt: skip

    def calls_to(self, method: str, path: str) -> list[Call]:
        return [c for c in self.calls if c.method == method and c.path == path]
