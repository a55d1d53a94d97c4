"""Finding 15: a workflow version above int32 (rollback body, version path, chat) was a 500
(the database's integer overflowed); integers are bounded before any query."""

from __future__ import annotations

import pytest

from runtime.templates import order_desk

pytestmark = pytest.mark.integration


async def test_versions_above_int32_are_a_422(client, make_user):
    user = await make_user()
    r = await client.post("/api/v1/workflows", json={"name": "w", "definition": order_desk()},
                          headers=user.headers)
    wf = r.json()["id"]
    huge = 2**31
    r = await client.post(f"/api/v1/workflows/{wf}/rollback", json={"version": huge},
                          headers=user.headers)
    assert r.status_code == 422 and r.json()["error"]["details"][0]["pointer"] == "/body/version"
    r = await client.get(f"/api/v1/workflows/{wf}/versions/{huge}", headers=user.headers)
    assert r.status_code == 422 and r.json()["error"]["details"][0]["pointer"] == "/path/version"
    r = await client.get(f"/api/v1/workflows/{wf}/versions/{10**30}", headers=user.headers)
    assert r.status_code == 422
    r = await client.post(f"/api/v1/workflows/{wf}/chat", json={"version": huge},
                          headers=user.headers)
    assert r.status_code == 422 and r.json()["error"]["details"][0]["pointer"] == "/body/version"
    r = await client.get(f"/api/v1/workflows/{wf}/versions/{2**31 - 1}", headers=user.headers)
    assert r.status_code == 404  # in range: simply not there
