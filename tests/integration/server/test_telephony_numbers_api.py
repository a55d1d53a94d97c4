"""Carrier accounts and phone numbers: CRUD, encryption at rest, organization scoping."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx

from db import workflows as workflows_db

TWILIO = {"account_sid": "AC" + "2" * 32, "auth_token": "tok-secret-value"}
WORKFLOW = {
    "nodes": [{"id": "start", "type": "start", "greeting": "Hello"}],
    "edges": [],
}


async def make_workflow(server: Any, organization_id: str) -> str:
    row = await workflows_db.create(
        server.services.db, uuid.UUID(organization_id), name="wf", description="", draft=WORKFLOW
    )
    return str(row["id"])


async def make_account(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Any]:
    r = await client.post(
        "/api/v1/carriers",
        json={"carrier": "twilio", "name": "main", "credentials": TWILIO},
        headers=headers,
    )
    assert r.status_code == 201, r.text
    return r.json()


async def test_carrier_accounts_crud_and_encryption(client, make_user, server) -> None:
    user = await make_user()
    account = await make_account(client, user.headers)
    assert account["account_hint"] == TWILIO["account_sid"]
    assert "credentials" not in account and "tok-secret-value" not in json.dumps(account)

    stored = await server.services.db.fetchval(
        "SELECT credentials FROM carrier_accounts WHERE id = $1", uuid.UUID(account["id"])
    )
    assert b"tok-secret-value" not in bytes(stored)
    assert json.loads(server.services.secret_box.decrypt(stored)) == TWILIO

    bad = await client.post(
        "/api/v1/carriers",
        json={"carrier": "twilio", "name": "x", "credentials": {"account_sid": "AC1"}},
        headers=user.headers,
    )
    assert bad.status_code == 422 and "auth_token" in bad.text
    unknown = await client.post(
        "/api/v1/carriers",
        json={"carrier": "pigeon", "name": "x", "credentials": {}},
        headers=user.headers,
    )
    assert unknown.status_code == 422

    listed = await client.get("/api/v1/carriers", headers=user.headers)
    assert [a["id"] for a in listed.json()] == [account["id"]]
    renamed = await client.patch(
        f"/api/v1/carriers/{account['id']}", json={"name": "renamed"}, headers=user.headers
    )
    assert renamed.status_code == 200 and renamed.json()["name"] == "renamed"

    other = await make_user()
    for method, body in (("GET", None), ("PATCH", {"name": "x"}), ("DELETE", None)):
        r = await client.request(
            method, f"/api/v1/carriers/{account['id']}", json=body, headers=other.headers
        )
        assert r.status_code == 404, (method, r.text)
    assert (await client.get("/api/v1/carriers", headers=other.headers)).json() == []


async def test_phone_numbers_crud_and_foreign_references(client, make_user, server) -> None:
    user, other = await make_user(), await make_user()
    account = await make_account(client, user.headers)
    other_account = await make_account(client, other.headers)
    workflow = await make_workflow(server, user.organization_id)
    other_workflow = await make_workflow(server, other.organization_id)
    number = f"+1415555{uuid.uuid4().int % 10000:04d}"

    def body(**extra: Any) -> dict[str, Any]:
        return {"number": number, "carrier_account_id": account["id"], **extra}

    # the credential and workflow must be the caller's organization's
    r = await client.post(
        "/api/v1/phone-numbers",
        json=body(carrier_account_id=other_account["id"]),
        headers=user.headers,
    )
    assert r.status_code == 404 and "carrier account" in r.text
    r = await client.post(
        "/api/v1/phone-numbers", json=body(workflow_id=other_workflow), headers=user.headers
    )
    assert r.status_code == 404 and "workflow" in r.text
    r = await client.post("/api/v1/phone-numbers", json=body(number="555-1234"), headers=user.headers)
    assert r.status_code == 422

    spaced = number[:2] + " " + number[2:5] + "-" + number[5:]
    created = await client.post(
        "/api/v1/phone-numbers", json=body(number=spaced, workflow_id=workflow), headers=user.headers
    )
    assert created.status_code == 201, created.text
    pn = created.json()
    assert pn["number"] == number and pn["carrier"] == "twilio" and pn["workflow_id"] == workflow
    assert pn["caller_id_allowed"] is True

    dup = await client.post("/api/v1/phone-numbers", json=body(), headers=user.headers)
    assert dup.status_code == 409
    dup_other = await client.post(
        "/api/v1/phone-numbers",
        json={"number": number, "carrier_account_id": other_account["id"]},
        headers=other.headers,
    )
    # another organization's registration never conflicts (a 409 would tell it who holds
    # the number); without a reachable carrier API it is simply unverified
    assert dup_other.status_code == 201, dup_other.text
    assert dup_other.json()["verified_at"] is None

    patched = await client.patch(
        f"/api/v1/phone-numbers/{pn['id']}",
        json={"workflow_id": None, "caller_id_allowed": False},
        headers=user.headers,
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["workflow_id"] is None and patched.json()["caller_id_allowed"] is False
    r = await client.patch(
        f"/api/v1/phone-numbers/{pn['id']}", json={"workflow_id": other_workflow},
        headers=user.headers,
    )  # fmt: skip
    assert r.status_code == 404

    for method in ("GET", "DELETE"):
        r = await client.request(method, f"/api/v1/phone-numbers/{pn['id']}", headers=other.headers)
        assert r.status_code == 404
    r = await client.delete(f"/api/v1/carriers/{account['id']}", headers=user.headers)
    assert r.status_code == 409  # numbers still use it
    assert (await client.delete(f"/api/v1/phone-numbers/{pn['id']}", headers=user.headers)).status_code == 204
    assert (await client.delete(f"/api/v1/carriers/{account['id']}", headers=user.headers)).status_code == 204
