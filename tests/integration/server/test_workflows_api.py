"""/api/v1/workflows over HTTP: drafts, validation, versions, rollback, chat, tenancy."""

from __future__ import annotations

import asyncpg
import pytest

from db import workflows as workflows_db
from runtime.templates import order_desk

pytestmark = pytest.mark.asyncio


async def _create(client, user, name="Order desk", **extra):  # type: ignore[no-untyped-def]
    body = {"name": name, "definition": order_desk(), **extra}
    response = await client.post("/api/v1/workflows", json=body, headers=user.headers)
    assert response.status_code == 201, response.text
    return response.json()


async def test_create_get_update_and_validate(client, make_user) -> None:  # type: ignore[no-untyped-def]
    user = await make_user()
    created = await _create(client, user)
    assert created["problems"] == [] and created["published_version"] is None
    wf_id = created["id"]

    got = await client.get(f"/api/v1/workflows/{wf_id}", headers=user.headers)
    assert got.status_code == 200
    assert got.json()["definition"]["nodes"][0]["id"] == "start"

    broken = order_desk()
    broken["edges"].append({"from": "orders", "to": "ghost", "condition": "x"})
    broken["nodes"][1]["prompt"] = "Hi {{nobody}}"
    patched = await client.patch(f"/api/v1/workflows/{wf_id}", headers=user.headers,
                                 json={"definition": broken, "name": "Renamed"})
    assert patched.status_code == 200
    assert patched.json()["name"] == "Renamed"
    # Drafts may be invalid; problems come back with pointers.
    pointers = {p["pointer"] for p in patched.json()["problems"]}
    assert {"/edges/4/to", "/nodes/1/prompt"} <= pointers

    checked = await client.post(f"/api/v1/workflows/{wf_id}/validate", headers=user.headers)
    assert checked.json()["valid"] is False
    assert {p["code"] for p in checked.json()["problems"]} == {"missing_node",
                                                               "undeclared_variable"}
    published = await client.post(f"/api/v1/workflows/{wf_id}/publish", json={},
                                  headers=user.headers)
    assert published.status_code == 422
    assert published.json()["error"]["code"] == "workflow_invalid"
    assert {d["pointer"] for d in published.json()["error"]["details"]} == pointers


async def test_template_and_minimal_defaults(client, make_user) -> None:  # type: ignore[no-untyped-def]
    user = await make_user()
    minimal = await client.post("/api/v1/workflows", json={"name": "Blank"},
                                headers=user.headers)
    assert minimal.status_code == 201 and minimal.json()["problems"] == []
    templ = await client.post("/api/v1/workflows", json={"name": "T", "template": "order_desk"},
                              headers=user.headers)
    assert templ.json()["definition"]["tools"][0]["name"] == "lookup_order"


async def test_publish_versions_rollback_and_pinning(client, make_user, server) -> None:  # type: ignore[no-untyped-def]
    user = await make_user()
    wf_id = (await _create(client, user))["id"]
    v1 = await client.post(f"/api/v1/workflows/{wf_id}/publish", json={"note": "first"},
                           headers=user.headers)
    assert v1.status_code == 201 and v1.json()["version"] == 1

    changed = order_desk()
    changed["nodes"][0]["greeting"] = "Version two speaking."
    await client.patch(f"/api/v1/workflows/{wf_id}", json={"definition": changed},
                       headers=user.headers)
    pool = server.services.db
    org = user.organization_id
    # A call started now is pinned to version 1; test calls may run the draft.
    pinned = await workflows_db.definition_for_call(pool, org, wf_id)
    assert pinned is not None and pinned[1] == 1
    assert pinned[0]["nodes"][0]["greeting"].startswith("Hi {{caller_name}}")
    draft = await workflows_db.definition_for_call(pool, org, wf_id, draft=True)
    assert draft == (changed, None)

    v2 = await client.post(f"/api/v1/workflows/{wf_id}/publish", json={"note": "second"},
                           headers=user.headers)
    assert v2.json()["version"] == 2
    versions = await client.get(f"/api/v1/workflows/{wf_id}/versions", headers=user.headers)
    assert [(v["version"], v["note"]) for v in versions.json()] == [(2, "second"), (1, "first")]
    # The pinned call still reads exactly what it started on.
    old = await client.get(f"/api/v1/workflows/{wf_id}/versions/1", headers=user.headers)
    assert old.json()["definition"]["nodes"][0]["greeting"].startswith("Hi {{caller_name}}")
    with pytest.raises(asyncpg.RaiseError, match="immutable"):
        await pool.execute("UPDATE workflow_versions SET note = 'x' WHERE workflow_id = $1",
                           wf_id)

    rolled = await client.post(f"/api/v1/workflows/{wf_id}/rollback", json={"version": 1},
                               headers=user.headers)
    assert rolled.status_code == 200
    assert rolled.json()["published_version"] == 1 and rolled.json()["latest_version"] == 2
    assert rolled.json()["definition"]["nodes"][0]["greeting"].startswith("Hi {{caller_name}}")
    assert (await workflows_db.definition_for_call(pool, org, wf_id))[1] == 1  # type: ignore[index]
    missing = await client.post(f"/api/v1/workflows/{wf_id}/rollback", json={"version": 9},
                                headers=user.headers)
    assert missing.status_code == 404


async def test_list_search_pagination_duplicate_archive(client, make_user) -> None:  # type: ignore[no-untyped-def]
    user = await make_user()
    ids = [(await _create(client, user, name=f"Flow {i}"))["id"] for i in range(5)]
    await _create(client, user, name="Dental reminders")
    seen: list[str] = []
    cursor = None
    for _ in range(4):
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = await client.get("/api/v1/workflows", params=params, headers=user.headers)
        assert page.status_code == 200
        seen += [w["id"] for w in page.json()["items"]]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 6 and len(set(seen)) == 6
    assert seen[1:] == list(reversed(ids))  # newest first
    found = await client.get("/api/v1/workflows", params={"q": "dental"}, headers=user.headers)
    assert [w["name"] for w in found.json()["items"]] == ["Dental reminders"]
    bad = await client.get("/api/v1/workflows", params={"cursor": "!!"}, headers=user.headers)
    assert bad.status_code == 400

    dup = await client.post(f"/api/v1/workflows/{ids[0]}/duplicate", headers=user.headers)
    assert dup.status_code == 201 and dup.json()["name"] == "Copy of Flow 0"
    archived = await client.post(f"/api/v1/workflows/{ids[0]}/archive", headers=user.headers)
    assert archived.json()["archived"] is True
    listed = await client.get("/api/v1/workflows", params={"q": "Flow 0"}, headers=user.headers)
    assert [w["id"] for w in listed.json()["items"]] == [dup.json()["id"]]
    # Archived workflows are read-only and start no calls.
    edit = await client.patch(f"/api/v1/workflows/{ids[0]}", json={"name": "x"},
                              headers=user.headers)
    assert edit.status_code == 404
    publish = await client.post(f"/api/v1/workflows/{ids[0]}/publish", json={},
                                headers=user.headers)
    assert publish.status_code == 404


async def test_export_import_roundtrip(client, make_user) -> None:  # type: ignore[no-untyped-def]
    user = await make_user()
    wf_id = (await _create(client, user, description="desk"))["id"]
    doc = (await client.get(f"/api/v1/workflows/{wf_id}/export", headers=user.headers)).json()
    assert doc["format"] == "switchboard.workflow/v1" and "id" not in doc
    other = await make_user()
    imported = await client.post("/api/v1/workflows/import", json=doc, headers=other.headers)
    assert imported.status_code == 201
    assert imported.json()["definition"] == order_desk()
    assert imported.json()["description"] == "desk"


async def test_chat_runs_the_workflow_offline(client, make_user) -> None:  # type: ignore[no-untyped-def]
    user = await make_user()
    wf_id = (await _create(client, user))["id"]
    url = f"/api/v1/workflows/{wf_id}/chat"
    hello = await client.post(url, json={"variables": {"caller_name": "Cy"}},
                              headers=user.headers)
    assert hello.status_code == 200, hello.text
    body = hello.json()
    assert body["reply"] == "Hi Cy, this is Acme. Is this about an order or billing?"
    assert body["engine"] == "offline-scripted" and body["node"] == "start"
    sid = body["session_id"]

    turn = await client.post(url, json={"session_id": sid, "message": "a billing question"},
                             headers=user.headers)
    assert turn.json()["handoffs"] == [{"from_node": "start", "to_node": "billing"}]
    assert turn.json()["node"] == "billing"
    bye = await client.post(url, json={"session_id": sid, "message": "ok goodbye"},
                            headers=user.headers)
    assert bye.json()["ended"] is True
    # "goodbye" is the billing node's "says bye" edge (synonyms), which wins over end_call.
    assert bye.json()["handoffs"] == [{"from_node": "billing", "to_node": "goodbye"}]
    after = await client.post(url, json={"session_id": sid, "message": "hello?"},
                              headers=user.headers)
    assert after.status_code == 409

    # A session belongs to its organization and workflow.
    other = await make_user()
    other_wf = (await _create(client, other))["id"]
    stolen = await client.post(f"/api/v1/workflows/{other_wf}/chat",
                               json={"session_id": sid, "message": "hi"}, headers=other.headers)
    assert stolen.status_code == 404
    unpublished = await client.post(url, json={"version": 1}, headers=user.headers)
    assert unpublished.status_code == 404
    broken = order_desk()
    broken["edges"][0]["to"] = "nowhere"
    await client.patch(f"/api/v1/workflows/{wf_id}", json={"definition": broken},
                       headers=user.headers)
    invalid = await client.post(url, json={}, headers=user.headers)
    assert invalid.status_code == 422
    assert invalid.json()["error"]["details"][0]["pointer"] == "/edges/0/to"


async def test_every_workflow_route_is_tenant_isolated(client, make_user) -> None:  # type: ignore[no-untyped-def]
    owner, intruder = await make_user(), await make_user()
    wf_id = (await _create(client, owner))["id"]
    await client.post(f"/api/v1/workflows/{wf_id}/publish", json={}, headers=owner.headers)
    base = f"/api/v1/workflows/{wf_id}"
    attempts = [
        ("GET", base, None),
        ("PATCH", base, {"name": "mine now"}),
        ("POST", f"{base}/validate", None),
        ("POST", f"{base}/publish", {}),
        ("GET", f"{base}/versions", None),
        ("GET", f"{base}/versions/1", None),
        ("POST", f"{base}/rollback", {"version": 1}),
        ("POST", f"{base}/duplicate", None),
        ("POST", f"{base}/archive", None),
        ("GET", f"{base}/export", None),
        ("POST", f"{base}/chat", {"message": None}),
        ("DELETE", base, None),
    ]
    for method, path, body in attempts:
        response = await client.request(method, path, json=body, headers=intruder.headers)
        assert response.status_code == 404, (method, path, response.text)
        assert response.json()["error"]["code"] == "not_found"
    listed = await client.get("/api/v1/workflows", headers=intruder.headers)
    assert listed.json()["items"] == []
    # Nothing changed for the owner.
    mine = (await client.get(base, headers=owner.headers)).json()
    assert mine["name"] == "Order desk" and mine["archived"] is False
    assert mine["latest_version"] == 1
    unauthenticated = await client.get(base)
    assert unauthenticated.status_code == 401


async def test_tool_secrets_reach_http_tool_headers(client, make_user) -> None:  # type: ignore[no-untyped-def]
    from aiohttp import web

    from tests.fakes import LoopbackServer

    seen: list[str | None] = []

    async def orders(request: web.Request) -> web.Response:
        seen.append(request.headers.get("X-Key"))
        return web.json_response({"status": "delivered"})

    user = await make_user()
    stored = await client.put("/api/v1/tool-secrets/orders_key",
                              json={"value": "very-secret-value-1234"}, headers=user.headers)
    assert stored.status_code == 200 and stored.json()["hint"] == "1234"
    listed = (await client.get("/api/v1/tool-secrets", headers=user.headers)).json()
    assert listed[0]["name"] == "orders_key" and "value" not in listed[0]
    bad = await client.put("/api/v1/tool-secrets/Bad-Name", json={"value": "x"},
                           headers=user.headers)
    assert bad.status_code == 400

    api = LoopbackServer()
    api.app.router.add_get("/orders", orders)
    async with api:
        definition = order_desk(tool_url=f"{api.http_url}/orders")
        definition["tools"][0]["headers"] = {"X-Key": "{{secret.orders_key}}"}
        wf_id = (await _create(client, user, definition=definition))["id"]
        url = f"/api/v1/workflows/{wf_id}/chat"
        sid = (await client.post(url, json={}, headers=user.headers)).json()["session_id"]
        await client.post(url, json={"session_id": sid, "message": "my order"},
                          headers=user.headers)
        turn = await client.post(url, json={"session_id": sid, "message": "number 5512"},
                                 headers=user.headers)
    assert turn.json()["tool_calls"][0]["name"] == "lookup_order"
    assert turn.json()["tool_calls"][0]["arguments"] == {"order_number": "5512"}
    assert seen == ["very-secret-value-1234"]
    assert turn.json()["reply"] == "status: delivered"
    gone = await client.delete("/api/v1/tool-secrets/orders_key", headers=user.headers)
    assert gone.status_code == 204
