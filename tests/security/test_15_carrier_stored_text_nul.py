"""Finding 15 (authenticated, carrier routes): a NUL in a carrier account's name, in a
credential that is stored as the account's hint, or in a phone number's label reached
PostgreSQL and became a 500. Each is a 422 naming the field."""

from __future__ import annotations

import uuid

import httpx
import pytest

pytestmark = pytest.mark.integration

TWILIO = {"account_sid": "AC" + "6" * 32, "auth_token": "tok"}


async def test_nul_in_carrier_account_fields_is_a_422(client: httpx.AsyncClient, make_user) -> None:
    user = await make_user()
    cases = [
        ({"carrier": "twilio", "name": "main\x00", "credentials": TWILIO}, "/body/name"),
        ({"carrier": "telnyx", "name": "t", "credentials": {"api_key": "k", "public_key": "p",
                                                            "connection_id": "c\x00"}}, "/body/credentials"),
        ({"carrier": "twilio\x00", "name": "t", "credentials": TWILIO}, "/body/carrier"),
    ]  # fmt: skip
    for body, field in cases:
        r = await client.post("/api/v1/carriers", headers=user.headers, json=body)
        assert r.status_code == 422, (body, r.text)
        assert r.json()["error"]["details"][0]["pointer"].startswith(field), r.text
    acct = await client.post("/api/v1/carriers", headers=user.headers,
                             json={"carrier": "twilio", "name": "ok", "credentials": TWILIO})  # fmt: skip
    assert acct.status_code == 201, acct.text
    r = await client.patch(
        f"/api/v1/carriers/{acct.json()['id']}", headers=user.headers, json={"name": "x\x00"}
    )
    assert r.status_code == 422, r.text


async def test_nul_in_phone_number_label_is_a_422(client: httpx.AsyncClient, make_user) -> None:
    user = await make_user()
    acct = await client.post("/api/v1/carriers", headers=user.headers,
                             json={"carrier": "twilio", "name": "ok", "credentials": TWILIO})  # fmt: skip
    number = f"+1415444{uuid.uuid4().int % 10000:04d}"
    body = {"number": number, "carrier_account_id": acct.json()["id"], "label": "front\x00desk"}
    r = await client.post("/api/v1/phone-numbers", headers=user.headers, json=body)
    assert r.status_code == 422 and r.json()["error"]["details"][0]["pointer"] == "/body/label", r.text
    created = await client.post(
        "/api/v1/phone-numbers", headers=user.headers, json={**body, "label": "front"}
    )
    assert created.status_code == 201, created.text
    r = await client.patch(f"/api/v1/phone-numbers/{created.json()['id']}", headers=user.headers,
                           json={"label": "\x00"})  # fmt: skip
    assert r.status_code == 422, r.text
