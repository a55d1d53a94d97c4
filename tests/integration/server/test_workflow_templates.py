"""Every listed template publishes and runs a conversation offline over text chat; the
order-status template's HTTP tool reaches the server's own demo order service."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.asyncio

# Caller lines that walk each template from its greeting to its end (offline engine).
SCRIPTS = {
    "receptionist": (["I want to book an appointment", "Yes that is right, confirmed"],
                     "confirmed"),
    "order_status": (["My order number is 1001", "Thanks, bye"], "goodbye"),
    "lead_qualification": (["Yes I have time to talk",
                            "Team size is 12 and we want a demo"], "book"),
    "order_desk": (["It is about an order", "number 5512", "I am done, bye"], "goodbye"),
}


async def _templates(client, user) -> dict[str, dict]:
    r = await client.get("/api/v1/workflow-templates", headers=user.headers)
    assert r.status_code == 200, r.text
    return {t["name"]: t for t in r.json()}


async def test_templates_are_listed(client, make_user):
    listed = await _templates(client, await make_user())
    assert {"receptionist", "order_status", "lead_qualification"} <= set(listed)
    assert listed["lead_qualification"]["direction"] == "outbound"
    tool = listed["order_status"]["definition"]["tools"][0]
    assert tool["url"].endswith("/demo/orders") and tool["method"] == "GET"


@pytest.mark.parametrize("name", sorted(SCRIPTS))
async def test_template_publishes_and_chats_offline(client, make_user, name):
    user = await make_user()
    created = await client.post("/api/v1/workflows", json={"name": name, "template": name},
                                headers=user.headers)
    assert created.status_code == 201 and created.json()["problems"] == [], created.text
    wf = created.json()["id"]
    published = await client.post(f"/api/v1/workflows/{wf}/publish", json={},
                                  headers=user.headers)
    assert published.status_code == 201, published.text
    url = f"/api/v1/workflows/{wf}/chat"
    hello = await client.post(url, json={"version": 1}, headers=user.headers)
    assert hello.status_code == 200 and hello.json()["engine"] == "offline-scripted"
    assert hello.json()["reply"]
    sid = hello.json()["session_id"]
    lines, final_node = SCRIPTS[name]
    turns = []
    for line in lines:
        r = await client.post(url, json={"session_id": sid, "message": line},
                              headers=user.headers)
        assert r.status_code == 200, r.text
        turns.append(r.json())
    assert turns[-1]["node"] == final_node, turns
    assert turns[-1]["ended"] is True
    if name in ("order_status", "order_desk"):
        calls = [c for t in turns for c in t["tool_calls"] if c["name"] == "lookup_order"]
        assert calls and calls[0]["error"] is None, turns
        assert '"status"' in calls[0]["result"] and '"order_number"' in calls[0]["result"]


async def test_demo_order_service_is_deterministic(client):
    a = await client.get("/demo/orders", params={"order_number": "A-1001"})
    b = await client.get("/demo/orders/A-1001")
    assert a.status_code == 200 and a.json() == b.json()
    assert a.json()["status"] in ("processing", "shipped", "out for delivery", "delivered")
    bad = await client.get("/demo/orders/..%2Fetc")
    assert bad.status_code in (404, 422)
    bad = await client.get("/demo/orders", params={"order_number": "x" * 100})
    assert bad.status_code == 422
