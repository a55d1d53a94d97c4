"""Campaign API: strict creation (422 with pointers), contact import reports (CSV body,
multipart, JSON; E.164 errors, duplicates, do-not-call hits, missing variables, time zones),
the do-not-call list, contact listing and results, state rules."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest

from tests.fakes.carriers.twilio_rest import FakeTwilioRest
from tests.integration.server.campaign_carrier import SID, TOKEN, WORKFLOW, instance


@pytest.fixture(scope="module")
async def live(database_url: str, data_dir: Any) -> AsyncIterator[tuple[Any, httpx.AsyncClient]]:
    async with FakeTwilioRest(SID, TOKEN) as fake, instance(database_url, data_dir, fake) as server, \
            httpx.AsyncClient(base_url=server.url, timeout=30) as http:  # fmt: skip
        yield server, http


@pytest.fixture
def client(live: tuple[Any, httpx.AsyncClient]) -> httpx.AsyncClient:
    return live[1]


@pytest.fixture
def make_user(client: httpx.AsyncClient) -> Callable[[], Awaitable[Any]]:
    class User:
        headers: dict[str, str]

    async def make() -> Any:
        r = await client.post("/api/v1/auth/signup", json={
            "email": f"api-{uuid.uuid4().hex[:8]}@example.com",
            "password": "correct horse battery"})  # fmt: skip
        assert r.status_code == 201, r.text
        user = User()
        user.headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
        return user

    return make


async def _org(client: httpx.AsyncClient, make_user: Any) -> tuple[dict[str, str], str, str]:
    user = await make_user()
    h = user.headers
    wf = await client.post(
        "/api/v1/workflows",
        headers=h,
        json={
            "name": "w",
            "definition": {
                **WORKFLOW,
                "inputs": [{"name": "first_name"}, {"name": "city", "default": "Paris"}],
            },
        },
    )
    assert wf.status_code == 201, wf.text
    wf_id = wf.json()["id"]
    assert (await client.post(f"/api/v1/workflows/{wf_id}/publish", json={},
                              headers=h)).status_code == 201  # fmt: skip
    acct = await client.post("/api/v1/carriers", headers=h, json={
        "carrier": "twilio", "name": "t",
        "credentials": {"account_sid": SID, "auth_token": TOKEN}})  # fmt: skip
    assert acct.status_code == 201, acct.text
    number = f"+1415888{uuid.uuid4().int % 10000:04d}"
    pn = await client.post("/api/v1/phone-numbers", headers=h, json={
        "number": number, "carrier_account_id": acct.json()["id"]})  # fmt: skip
    assert pn.status_code == 201, pn.text
    return h, wf_id, number


async def test_create_is_strict_with_pointers(client: httpx.AsyncClient, make_user: Any) -> None:
    h, wf_id, number = await _org(client, make_user)
    bad = {"name": "x", "workflow_id": wf_id, "max_concurrent_calls": 0,
           "schedule": {"time_zone": "Mars/Olympus",
                        "windows": {"mon": [{"start": "17:00", "end": "09:00"}]}},
           "retry": {"retry_on": ["busy", "angry"], "max_attempts": 99}}  # fmt: skip
    r = await client.post("/api/v1/campaigns", json=bad, headers=h)
    assert r.status_code == 422, r.text
    pointers = {d["pointer"] for d in r.json()["error"]["details"]}
    assert {
        "/body/max_concurrent_calls",
        "/body/schedule/time_zone",
        "/body/retry/retry_on/1",
        "/body/retry/max_attempts",
    } <= pointers, pointers
    assert any(p.startswith("/body/schedule/windows/mon/0") for p in pointers), pointers
    r = await client.post("/api/v1/campaigns", json={"name": "x", "workflow_id": wf_id,
                                                     "unknown": 1}, headers=h)  # fmt: skip
    assert r.status_code == 422
    r = await client.post("/api/v1/campaigns", headers=h, json={
        "name": "x", "workflow_id": wf_id, "caller_ids": [number, "+14155550000"]})  # fmt: skip
    assert r.status_code == 422
    assert r.json()["error"]["details"][0]["pointer"] == "/body/caller_ids/1"
    r = await client.post("/api/v1/campaigns", headers=h, json={
        "name": "x", "workflow_id": str(uuid.uuid4())})  # fmt: skip
    assert r.status_code == 422
    assert r.json()["error"]["details"][0]["pointer"] == "/body/workflow_id"
    r = await client.post("/api/v1/campaigns", headers=h, json={
        "name": "x", "workflow_id": wf_id, "voicemail": {"action": "message"}})  # fmt: skip
    assert r.status_code == 422
    r = await client.post("/api/v1/campaigns", headers=h, json={
        "name": "ok", "workflow_id": wf_id, "schedule": {
            "starts_at": "2026-12-01T08:00:00Z", "time_zone": "Europe/Paris",
            "windows": {"mon": [{"start": "09:00", "end": "12:00"},
                                {"start": "14:00", "end": "18:00"}]}},
        "variables": {"company": "Acme"}})  # fmt: skip
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["state"] == "draft" and out["caller_ids"] == [number]
    assert out["required_variables"] == ["first_name"]  # the workflow input without default
    # a draft without contacts cannot start
    r = await client.post(f"/api/v1/campaigns/{out['id']}/start", headers=h)
    assert r.status_code == 409 and r.json()["error"]["code"] == "no_contacts"
    listed = await client.get("/api/v1/campaigns", headers=h)
    assert [c["id"] for c in listed.json()["items"]] == [out["id"]]


CSV = (
    "phone_number,first_name,time_zone,note\n"
    '+33 1 23 45 67 89,Ana,,"multi\nline"\n'  # France: one zone, derived
    "not-a-number,Bob,,\n"
    "+14155550101,Cy,America/Los_Angeles,\n"
    "+14155550101,Cy again,,\n"  # duplicate within the upload
    "+14155550102,,,\n"  # missing first_name
    "+14155550103,Di,Nowhere/Land,\n"
    "+14155550104,Ed,,\n"  # on the do-not-call list
    "+14155550105,Flo,,\n"  # +1: several zones, the campaign's
)


async def test_contacts_import_report_csv_multipart_json(client: httpx.AsyncClient,
                                                         make_user: Any) -> None:  # fmt: skip
    h, wf_id, _ = await _org(client, make_user)
    r = await client.post("/api/v1/campaigns", headers=h, json={
        "name": "c", "workflow_id": wf_id, "schedule": {"time_zone": "America/New_York"}})  # fmt: skip
    campaign_id = r.json()["id"]
    dnc = await client.post("/api/v1/do-not-call", json={"phone_number": "+1 415 555 0104",
                                                         "reason": "asked"}, headers=h)  # fmt: skip
    assert dnc.status_code == 201 and dnc.json()["phone_number"] == "+14155550104"
    url = f"/api/v1/campaigns/{campaign_id}/contacts"
    r = await client.post(url, content=CSV.encode(), headers={**h, "Content-Type": "text/csv"})
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["received"] == 8 and report["imported"] == 3
    assert report["rejected"] == {"invalid_number": 1, "duplicate": 1, "missing_variables": 1,
                                  "invalid_time_zone": 1, "do_not_call": 1}  # fmt: skip
    assert [(e["row"], e["code"]) for e in report["errors"]] == [
        (2, "invalid_number"), (4, "duplicate"), (5, "missing_variables"),
        (6, "invalid_time_zone"), (7, "do_not_call")]  # fmt: skip
    listing = await client.get(url, headers=h)
    assert listing.status_code == 200, listing.text
    contacts = listing.json()["items"]
    by_number = {c["phone_number"]: c for c in contacts}
    assert by_number["+33123456789"]["time_zone"] == "Europe/Paris"
    assert by_number["+33123456789"]["variables"] == {"first_name": "Ana", "note": "multi\nline"}
    assert by_number["+14155550101"]["time_zone"] == "America/Los_Angeles"
    assert by_number["+14155550105"]["time_zone"] == "America/New_York"
    # the same file again, as a multipart upload: every good row is now a duplicate
    r = await client.post(url, files={"file": ("list.csv", CSV.encode(), "text/csv")}, headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["imported"] == 0 and r.json()["rejected"]["duplicate"] == 4
    # JSON rows, with row numbers continuing after the earlier imports
    r = await client.post(url, json={"contacts": [
        {"phone_number": "+14155550106", "variables": {"first_name": "Gus"}},
        {"phone_number": "+14155550107"}, "junk"]}, headers=h)  # fmt: skip
    assert r.status_code == 200, r.text
    assert r.json()["imported"] == 1 and r.json()["received"] == 3
    filtered = await client.get(url, params={"phone_number": "+14155550106"}, headers=h)
    [gus] = filtered.json()["items"]
    assert gus["row"] > 8 and gus["state"] == "pending" and gus["calls"] == []
    assert gus["next_attempt_at"] is None  # never tried: due now, not "year 1"
    pending = await client.get(url, params={"state": "pending", "limit": 2}, headers=h)
    assert len(pending.json()["items"]) == 2 and pending.json()["next_cursor"]
    page2 = await client.get(url, params={"state": "pending", "limit": 2,
                                          "cursor": pending.json()["next_cursor"]}, headers=h)  # fmt: skip
    assert len(page2.json()["items"]) == 2
    # uploads that cannot be read at all
    r = await client.post(url, content=b"name,city\nA,B\n", headers={**h, "Content-Type": "text/csv"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "missing_phone_column"
    r = await client.post(url, content=b"phone\n\xff\xfe\n", headers={**h, "Content-Type": "text/csv"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "not_utf8"
    r = await client.post(url, content=b"x", headers={**h, "Content-Type": "application/xml"})
    assert r.status_code == 415
    r = await client.post(url, json={"contacts": "nope"}, headers=h)
    assert r.status_code == 422
    results = await client.get(f"/api/v1/campaigns/{campaign_id}/results.csv", headers=h)
    assert results.status_code == 200 and len(results.text.strip().splitlines()) == 1 + 4
    # cancel: pending contacts become canceled; a canceled campaign takes no contacts
    r = await client.post(f"/api/v1/campaigns/{campaign_id}/cancel", headers=h)
    assert r.status_code == 200 and r.json()["state"] == "canceled"
    progress = (await client.get(f"/api/v1/campaigns/{campaign_id}", headers=h)).json()["progress"]
    assert progress["states"]["canceled"] == 4 and progress["contacts"] == 4
    r = await client.post(url, json={"contacts": []}, headers=h)
    assert r.status_code == 409


async def test_do_not_call_crud_and_pending_contacts_stop(client: httpx.AsyncClient,
                                                          make_user: Any) -> None:  # fmt: skip
    h, wf_id, _ = await _org(client, make_user)
    r = await client.post("/api/v1/campaigns", headers=h, json={
        "name": "c", "workflow_id": wf_id, "variables": {"first_name": "x"}})  # fmt: skip
    campaign_id = r.json()["id"]
    url = f"/api/v1/campaigns/{campaign_id}/contacts"
    r = await client.post(url, json={"contacts": [{"phone_number": "+14155550150"}]}, headers=h)
    assert r.json()["imported"] == 1
    r = await client.post("/api/v1/do-not-call", json={"phone_number": "+14155550150"}, headers=h)
    assert r.status_code == 201 and r.json()["source"] == "api"
    again = await client.post("/api/v1/do-not-call", json={"phone_number": "+14155550150"},
                              headers=h)  # fmt: skip
    assert again.status_code == 200
    [contact] = (await client.get(url, headers=h)).json()["items"]
    assert contact["state"] == "opted-out"
    r = await client.post("/api/v1/do-not-call", json={"phone_number": "12"}, headers=h)
    assert r.status_code == 422 and r.json()["error"]["details"][0]["pointer"] == "/body/phone_number"
    got = await client.get("/api/v1/do-not-call/%2B14155550150", headers=h)
    assert got.status_code == 200 and got.json()["phone_number"] == "+14155550150"
    listed = await client.get("/api/v1/do-not-call", headers=h)
    assert [e["phone_number"] for e in listed.json()["items"]] == ["+14155550150"]
    assert (await client.get("/api/v1/do-not-call/garbage", headers=h)).status_code == 400
    assert (await client.delete("/api/v1/do-not-call/%2B14155550150", headers=h)).status_code == 204
    assert (await client.get("/api/v1/do-not-call/%2B14155550150", headers=h)).status_code == 404


async def test_opt_out_tool_turn_puts_the_number_on_the_list(
    client: httpx.AsyncClient, make_user: Any, live: tuple[Any, httpx.AsyncClient]
) -> None:
    """The call.ended job reads the call's tool turns: an ``opt_out`` lists the dialed number
    and stops its pending contacts."""
    from datetime import UTC, datetime

    from db import calls as calls_db
    from server.jobs.post_call import handle_call_ended

    h, wf_id, number = await _org(client, make_user)
    r = await client.post("/api/v1/campaigns", headers=h, json={
        "name": "c", "workflow_id": wf_id, "variables": {"first_name": "x"}})  # fmt: skip
    campaign_id = r.json()["id"]
    url = f"/api/v1/campaigns/{campaign_id}/contacts"
    await client.post(url, json={"contacts": [{"phone_number": "+14155550160"}]}, headers=h)
    services = live[0].services
    org = uuid.UUID((await client.get("/api/v1/organization", headers=h)).json()["id"])
    call = await calls_db.create(
        services.db, org, workflow_id=uuid.UUID(wf_id), workflow_version=1, channel="twilio",
        direction="outbound", from_number=number, to_number="+14155550160", status="completed",
        carrier="twilio", carrier_call_id="CA1", test=False, variables={}, metadata={})  # fmt: skip
    now = datetime.now(UTC)
    await calls_db.insert_turns(services.db, org, call["id"], [
        {"idx": 0, "speaker": "tool", "text": "opt_out", "started_at": now, "ended_at": now,
         "interrupted": False, "tool": {"name": "opt_out", "arguments": {}, "result": "ok",
                                        "error": None}}])  # fmt: skip
    await handle_call_ended(services, {"organization_id": org,
                                       "payload": {"call_id": str(call["id"])}})  # fmt: skip
    listed = await client.get("/api/v1/do-not-call/%2B14155550160", headers=h)
    assert listed.status_code == 200 and listed.json()["source"] == "opt_out"
    [contact] = (await client.get(url, headers=h)).json()["items"]
    assert contact["state"] == "opted-out"
