"""Finding 15: a NUL character (\\u0000) in any stored text (workflow name, definition,
key/org/signup names, ...) was a 500 at the insert; now a 422 naming the field."""

from __future__ import annotations

import pytest

from runtime.templates import order_desk

pytestmark = pytest.mark.integration


def _pointer(response) -> str:
    assert response.status_code == 422, response.text
    detail = response.json()["error"]["details"][0]
    assert detail["code"] == "nul_character"
    return detail["pointer"]


async def test_nul_in_stored_text_is_a_422_naming_the_field(client, make_user):
    user = await make_user()
    h = user.headers
    r = await client.post("/api/v1/workflows", json={"name": "bad\u0000name"}, headers=h)
    assert _pointer(r) == "/body/name"
    definition = order_desk()
    definition["nodes"][1]["prompt"] = "Ask\u0000"
    r = await client.post("/api/v1/workflows", json={"name": "ok", "definition": definition},
                          headers=h)
    assert _pointer(r) == "/body/definition/nodes/1/prompt"
    r = await client.post("/api/v1/api-keys", json={"name": "k\u0000"}, headers=h)
    assert _pointer(r) == "/body/name"
    r = await client.patch("/api/v1/organization", json={"name": "Org\u0000"}, headers=h)
    assert _pointer(r) == "/body/name"
    r = await client.post("/api/v1/carriers", headers=h, json={
        "carrier": "twilio", "name": "c\u0000", "credentials": {"a\u0000": "b"}})
    assert _pointer(r) == "/body/name"
    r = await client.post("/api/v1/auth/signup", json={
        "email": "nul@example.com", "password": "correct horse battery", "name": "N\u0000"})
    assert _pointer(r) == "/body/name"
    r = await client.get("/api/v1/workflows", params={"q": "x\u0000"}, headers=h)
    assert _pointer(r) == "/query/q"
    r = await client.put("/api/v1/tool-secrets/a%00b", json={"value": "v"}, headers=h)
    assert _pointer(r) == "/path/name"
