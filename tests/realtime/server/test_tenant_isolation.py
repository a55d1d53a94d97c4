"""Cross-tenant isolation: every organization-scoped route answers 404 for another org's id.

Each route with an id in its path has a case below that creates the resource in
organization A and returns the path parameters (and a valid body, so validation cannot
answer first). Organization B's admin then calls the route and must get a 404, and the
resource must be untouched for A. ``test_every_scoped_route_is_covered`` fails when a route
is added without a case here: extend CASES with each new route.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from server.routes import all_routers
from tests.members import add_member

Case = Callable[[Any, Any], Awaitable[tuple[dict[str, str], dict[str, Any] | None]]]
CASES: dict[tuple[str, str], Case] = {}
# Routes with a path parameter that is not another organization's resource id.
EXEMPT: dict[tuple[str, str], str] = {}


def case(method: str, path: str) -> Callable[[Case], Case]:
    def register(fn: Case) -> Case:
        CASES[(method, path)] = fn
        return fn

    return register


async def _api_key(client, owner):
    r = await client.post("/api/v1/api-keys", json={"name": "a"}, headers=owner.headers)
    assert r.status_code == 201
    return r.json()["id"]


@case("DELETE", "/api/v1/api-keys/{key_id:uuid}")
async def _revoke_key(client, owner):
    return {"key_id": await _api_key(client, owner)}, None


async def _second_member(client, owner, make_user):
    member = await make_user()
    await add_member(client, owner, member)
    return member.user_id


@case("PATCH", "/api/v1/organization/members/{user_id:uuid}")
async def _change_role(client, owner):
    return {"user_id": await _second_member(client, owner, owner.make_user)}, {"role": "admin"}


@case("DELETE", "/api/v1/organization/members/{user_id:uuid}")
async def _remove_member(client, owner):
    return {"user_id": await _second_member(client, owner, owner.make_user)}, None


async def _provider_credential(client, owner):
    r = await client.put("/api/v1/provider-credentials/deepgram",
                         json={"api_key": "dg-owner-secret-0001"}, headers=owner.headers)
    assert r.status_code == 200
    return {"provider": "deepgram"}, None


case("GET", "/api/v1/provider-credentials/{provider}")(_provider_credential)
case("DELETE", "/api/v1/provider-credentials/{provider}")(_provider_credential)
EXEMPT[("PUT", "/api/v1/provider-credentials/{provider}")] = (
    "the path names a provider, not a resource: PUT writes the caller's own credential"
)


async def _workflow(client, owner):
    from runtime.templates import order_desk

    r = await client.post("/api/v1/workflows", json={"name": "wf", "definition": order_desk()},
                          headers=owner.headers)
    assert r.status_code == 201
    wf_id = r.json()["id"]
    r = await client.post(f"/api/v1/workflows/{wf_id}/publish", json={}, headers=owner.headers)
    assert r.status_code == 201
    return wf_id


def _workflow_case(body: dict[str, Any] | None, **params: str) -> Case:
    async def make(client, owner):
        return {"workflow_id": await _workflow(client, owner), **params}, body

    return make


_WF = "/api/v1/workflows/{workflow_id:uuid}"
for _method, _path, _body, _params in [
    ("GET", _WF, None, {}),
    ("PATCH", _WF, {"name": "taken over"}, {}),
    ("POST", _WF + "/validate", None, {}),
    ("POST", _WF + "/publish", {}, {}),
    ("GET", _WF + "/versions", None, {}),
    ("GET", _WF + "/versions/{version:int}", None, {"version": "1"}),
    ("POST", _WF + "/rollback", {"version": 1}, {}),
    ("POST", _WF + "/duplicate", None, {}),
    ("POST", _WF + "/archive", None, {}),
    ("DELETE", _WF, None, {}),
    ("GET", _WF + "/export", None, {}),
    ("POST", _WF + "/chat", {"message": "hello"}, {}),
]:
    case(_method, _path)(_workflow_case(_body, **_params))


async def _webhook(client, owner):
    r = await client.post("/api/v1/webhooks", json={"url": "https://example.com/h",
                                                    "events": ["call.ended"]},
                          headers=owner.headers)
    assert r.status_code == 201
    return {"webhook_id": r.json()["id"]}


for _method, _path, _body in [
    ("GET", "/api/v1/webhooks/{webhook_id:uuid}", None),
    ("PATCH", "/api/v1/webhooks/{webhook_id:uuid}", {"active": False}),
    ("DELETE", "/api/v1/webhooks/{webhook_id:uuid}", None),
    ("GET", "/api/v1/webhooks/{webhook_id:uuid}/deliveries", None),
]:
    async def _make_webhook(client, owner, _body=_body):
        return await _webhook(client, owner), _body

    case(_method, _path)(_make_webhook)


@case("DELETE", "/api/v1/tool-secrets/{name}")
async def _tool_secret(client, owner):
    r = await client.put("/api/v1/tool-secrets/crm_token", json={"value": "owner-secret-1"},
                         headers=owner.headers)
    assert r.status_code == 200
    return {"name": "crm_token"}, None


EXEMPT[("PUT", "/api/v1/tool-secrets/{name}")] = (
    "the path names a secret of the caller's own organization: PUT writes its own"
)


async def _ended_browser_call(client, owner):
    """A short real WebRTC call (greeting heard, caller hangs up), so it has a recording."""
    from tests.realtime.pipeline.test_pipeline_call import WORKFLOW
    from tests.realtime.server.test_webrtc_calls import connect, publish_workflow, wait_for_end

    workflow_id = await publish_workflow(client, owner.headers, WORKFLOW)
    caller, call_id = await connect(client, owner.headers, workflow_id)
    try:
        await caller.wait_for_speech(frames=10, timeout=60)
    finally:
        await caller.close()
    await wait_for_end(client, owner.headers, call_id)
    return {"call_id": call_id}, None


for _path in ("/api/v1/calls/{call_id:uuid}", "/api/v1/calls/{call_id:uuid}/recording",
              "/api/v1/calls/{call_id:uuid}/webhook-deliveries"):
    case("GET", _path)(_ended_browser_call)
case("DELETE", "/api/v1/calls/{call_id:uuid}/recording")(_ended_browser_call)

async def _carrier_account(client, owner):
    r = await client.post("/api/v1/carriers", headers=owner.headers, json={
        "carrier": "twilio", "name": "t",
        "credentials": {"account_sid": "AC" + "3" * 32, "auth_token": "owner-token"}})
    assert r.status_code == 201, r.text
    return r.json()["id"]


for _method, _body in [("GET", None), ("PATCH", {"name": "taken over"}), ("DELETE", None)]:
    async def _make_account(client, owner, _body=_body):
        return {"account_id": await _carrier_account(client, owner)}, _body

    case(_method, "/api/v1/carriers/{account_id:uuid}")(_make_account)


async def _phone_number(client, owner, *, workflow: bool = False):
    import uuid as _uuid

    body = {"number": f"+1415999{_uuid.uuid4().int % 10000:04d}",
            "carrier_account_id": await _carrier_account(client, owner)}
    if workflow:
        body["workflow_id"] = await _workflow(client, owner)
    r = await client.post("/api/v1/phone-numbers", json=body, headers=owner.headers)
    assert r.status_code == 201, r.text
    return r.json()


for _method, _body in [("GET", None), ("PATCH", {"label": "taken over"}), ("DELETE", None)]:
    async def _make_number(client, owner, _body=_body):
        return {"number_id": (await _phone_number(client, owner))["id"]}, _body

    case(_method, "/api/v1/phone-numbers/{number_id:uuid}")(_make_number)


def _uuid4_hex() -> str:
    import uuid as _uuid

    return _uuid.uuid4().hex


async def _phone_call(client, owner):
    """An inbound Twilio call admitted by a signed voice webhook (its stream never connects)."""
    from loadgen.callers.twilio import twilio_signature

    number = await _phone_number(client, owner, workflow=True)
    url = str(client.base_url).rstrip("/") + "/telephony/twilio/voice"
    form = {"CallSid": "CA" + _uuid4_hex(), "From": "+14155550100", "To": number["number"]}
    r = await client.post(url, data=form,
                          headers={"X-Twilio-Signature": twilio_signature("owner-token", url, form)})
    assert r.status_code == 200 and "<Stream" in r.text, r.text
    calls = (await client.get("/api/v1/calls", headers=owner.headers)).json()
    items = calls["items"] if isinstance(calls, dict) else calls
    return items[0]["id"]


for _path, _body in [("/hangup", None), ("/transfer", {"to": "+14155550155"}),
                     ("/dtmf", {"digits": "1"})]:
    async def _make_call(client, owner, _body=_body):
        return {"call_id": await _phone_call(client, owner)}, _body

    case("POST", "/api/v1/calls/{call_id:uuid}" + _path)(_make_call)


async def _campaign(client, owner):
    number = await _phone_number(client, owner, workflow=True)
    r = await client.post("/api/v1/campaigns", headers=owner.headers, json={
        "name": "c", "workflow_id": number["workflow_id"], "caller_ids": [number["number"]]})
    assert r.status_code == 201, r.text
    campaign_id = r.json()["id"]
    r = await client.post(f"/api/v1/campaigns/{campaign_id}/contacts", headers=owner.headers,
                          json={"contacts": [{"phone_number": "+14155550100"}]})
    assert r.status_code == 200 and r.json()["imported"] == 1, r.text
    return {"campaign_id": campaign_id}


_CAMPAIGN = "/api/v1/campaigns/{campaign_id:uuid}"
for _method, _path, _body in [
    ("GET", _CAMPAIGN, None),
    ("POST", _CAMPAIGN + "/start", None),
    ("POST", _CAMPAIGN + "/pause", None),
    ("POST", _CAMPAIGN + "/resume", None),
    ("POST", _CAMPAIGN + "/cancel", None),
    ("POST", _CAMPAIGN + "/contacts", {"contacts": [{"phone_number": "+14155550101"}]}),
    ("GET", _CAMPAIGN + "/contacts", None),
    ("GET", _CAMPAIGN + "/results.csv", None),
]:
    async def _make_campaign(client, owner, _body=_body):
        return await _campaign(client, owner), _body

    case(_method, _path)(_make_campaign)


async def _do_not_call(client, owner):
    r = await client.post("/api/v1/do-not-call", json={"phone_number": "+14155550177"},
                          headers=owner.headers)
    assert r.status_code in (200, 201), r.text
    return {"phone_number": "+14155550177"}, None


case("GET", "/api/v1/do-not-call/{phone_number}")(_do_not_call)
case("DELETE", "/api/v1/do-not-call/{phone_number}")(_do_not_call)


def _scoped_endpoints():
    for router in all_routers():
        for ep in router.endpoints:
            if ep.auth is not None and "{" in ep.path:
                yield ep


def _fill(path: str, params: dict[str, str]) -> str:
    return re.sub(r"{([a-zA-Z_]+)(?::[a-z]+)?}", lambda m: params[m.group(1)], path)


def test_every_scoped_route_is_covered():
    missing = [f"{ep.method} {ep.path}" for ep in _scoped_endpoints()
               if (ep.method, ep.path) not in CASES and (ep.method, ep.path) not in EXEMPT]
    assert not missing, f"add cross-tenant cases for: {missing}"


@pytest.mark.parametrize("route", sorted(CASES), ids=lambda r: f"{r[0]} {r[1]}")
async def test_other_organization_gets_404(route, client, make_user):
    method, path = route
    owner = await make_user()
    owner.make_user = make_user  # some cases need extra users
    intruder = await make_user()  # owner of another organization: the strongest role there
    params, body = await CASES[route](client, owner)
    url = _fill(path, params)
    r = await client.request(method, url, json=body, headers=intruder.headers)
    assert r.status_code == 404, f"{method} {url}: {r.status_code} {r.text}"
    assert r.json()["error"]["code"] == "not_found"
    # And the owner still can (the resource was there all along).
    if method == "GET":
        assert (await client.get(url, headers=owner.headers)).status_code == 200
