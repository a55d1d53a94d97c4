"""The strict workflow contract: unknown fields, supported providers, keys at publish,
DELETE, unchanged publishes, who published, and the documented schema."""

from __future__ import annotations

import pytest

from db import carriers as carriers_db
from db import phone_numbers as numbers_db
from runtime.templates import order_desk

pytestmark = pytest.mark.asyncio


async def _create(client, user, **body):
    body = {"name": "W", "definition": order_desk(), **body}
    r = await client.post("/api/v1/workflows", json=body, headers=user.headers)
    assert r.status_code == 201, r.text
    return r.json()["id"]


def _details(response, status=422):
    assert response.status_code == status, response.text
    return response.json()["error"]["details"]


async def test_unknown_top_level_fields_are_refused(client, make_user):
    user = await make_user()
    r = await client.post("/api/v1/workflows", json={"name": "Mine", "graph": {"nodes": []}},
                          headers=user.headers)
    assert [(d["pointer"], d["code"]) for d in _details(r)] == [("/body/graph",
                                                                  "extra_forbidden")]
    wf = await _create(client, user)
    r = await client.patch(f"/api/v1/workflows/{wf}", json={"graph": {}}, headers=user.headers)
    assert _details(r)[0]["pointer"] == "/body/graph"
    r = await client.post(f"/api/v1/workflows/{wf}/chat", json={"text": "hi"},
                          headers=user.headers)
    assert _details(r)[0]["pointer"] == "/body/text"
    r = await client.get("/api/v1/workflows", params={"serch": "x"}, headers=user.headers)
    assert _details(r)[0]["pointer"] == "/query/serch"
    r = await client.get(f"/api/v1/workflows/{wf}", params={"expand": "1"}, headers=user.headers)
    assert _details(r)[0]["pointer"] == "/query/expand"
    r = await client.post(f"/api/v1/workflows/{wf}/duplicate", json={"name": "x"},
                          headers=user.headers)
    assert _details(r)[0]["pointer"] == "/body/name"
    r = await client.post(f"/api/v1/workflows/{wf}/duplicate", json={}, headers=user.headers)
    assert r.status_code == 201


async def test_providers_models_and_languages_are_validated(client, make_user):
    user = await make_user()
    definition = order_desk()
    definition["settings"] = {"llm": {"provider": "opanai"}, "tts": {"provider": "elevenlab"},
                              "stt": {"provider": "deepgram", "model": "super-stt-1"},
                              "language": "klingon"}
    wf = await _create(client, user, definition=definition)
    problems = (await client.get(f"/api/v1/workflows/{wf}", headers=user.headers)).json()
    found = {(p["pointer"], p["code"]) for p in problems["problems"]}
    assert found == {("/settings/llm/provider", "unknown_provider"),
                     ("/settings/tts/provider", "unknown_provider"),
                     ("/settings/stt/model", "unknown_model"),
                     ("/settings/language", "unknown_language")}
    r = await client.post(f"/api/v1/workflows/{wf}/publish", json={}, headers=user.headers)
    assert {d["pointer"] for d in _details(r)} == {p for p, _ in found}


async def test_a_cloud_provider_without_a_key_is_refused_at_publish(client, make_user):
    user = await make_user()
    definition = order_desk()
    definition["settings"] = {"llm": {"provider": "openai", "model": "gpt-4.1-mini"},
                              "tts": {"provider": "elevenlabs"}}
    wf = await _create(client, user, definition=definition)
    r = await client.post(f"/api/v1/workflows/{wf}/publish", json={}, headers=user.headers)
    details = _details(r)
    assert {(d["pointer"], d["code"]) for d in details} == {
        ("/settings/llm/provider", "missing_key"), ("/settings/tts/provider", "missing_key")}
    stored = await client.put("/api/v1/provider-credentials/elevenlabs",
                              json={"api_key": "el-test-key-000000"}, headers=user.headers)
    assert stored.status_code == 200, stored.text
    r = await client.post(f"/api/v1/workflows/{wf}/publish", json={}, headers=user.headers)
    assert [d["pointer"] for d in _details(r)] == ["/settings/llm/provider"]


async def test_publish_unchanged_is_409_and_records_the_api_key(client, make_user):
    user = await make_user()
    key = (await client.post("/api/v1/api-keys", json={"name": "ci"},
                             headers=user.headers)).json()
    key_headers = {"Authorization": f"Bearer {key['key']}"}
    wf = await _create(client, user)
    v1 = await client.post(f"/api/v1/workflows/{wf}/publish", json={}, headers=key_headers)
    assert v1.status_code == 201
    assert v1.json()["published_by_api_key"] == key["id"] and v1.json()["published_by"] is None
    again = await client.post(f"/api/v1/workflows/{wf}/publish", json={}, headers=user.headers)
    assert again.status_code == 409 and again.json()["error"]["code"] == "workflow_unchanged"
    versions = (await client.get(f"/api/v1/workflows/{wf}/versions",
                                 headers=user.headers)).json()
    assert [v["version"] for v in versions] == [1]
    assert versions[0]["published_by_api_key"] == key["id"]
    changed = order_desk()
    changed["nodes"][0]["greeting"] = "Hello there."
    await client.patch(f"/api/v1/workflows/{wf}", json={"definition": changed},
                       headers=user.headers)
    v2 = await client.post(f"/api/v1/workflows/{wf}/publish", json={}, headers=user.headers)
    assert v2.status_code == 201 and v2.json()["published_by"] == user.user_id


async def test_delete_drafts_and_archived_but_not_live_or_used(client, make_user, server):
    user = await make_user()
    draft = await _create(client, user)
    assert (await client.delete(f"/api/v1/workflows/{draft}",
                                headers=user.headers)).status_code == 204
    assert (await client.get(f"/api/v1/workflows/{draft}",
                             headers=user.headers)).status_code == 404
    live = await _create(client, user)
    await client.post(f"/api/v1/workflows/{live}/publish", json={}, headers=user.headers)
    r = await client.delete(f"/api/v1/workflows/{live}", headers=user.headers)
    assert r.status_code == 409 and r.json()["error"]["code"] == "workflow_published"
    await client.post(f"/api/v1/workflows/{live}/archive", headers=user.headers)
    # A phone number still pointing at it keeps it.
    pool = server.services.db
    account = await carriers_db.create(pool, user.organization_id, carrier="twilio", name="a",
                                       credentials=b"x", account_hint=None)
    number = await numbers_db.create(pool, user.organization_id, number="+15550009999",
                                     carrier_account_id=account["id"], workflow_id=live,
                                     caller_id_allowed=False, label=None)
    r = await client.delete(f"/api/v1/workflows/{live}", headers=user.headers)
    assert r.status_code == 409 and r.json()["error"]["code"] == "workflow_in_use"
    await numbers_db.update(pool, user.organization_id, number["id"],
                            fields={"workflow_id": None})
    assert (await client.delete(f"/api/v1/workflows/{live}",
                                headers=user.headers)).status_code == 204


async def test_openapi_documents_the_contract(client):
    doc = (await client.get("/openapi.json")).json()
    schemas = doc["components"]["schemas"]
    workflow = schemas["Workflow"]
    assert {"nodes", "edges", "tools", "settings", "global"} <= set(workflow["properties"])
    assert workflow["examples"][0]["settings"]["llm"]["provider"] == "openai"
    assert {"Node", "Edge", "HttpTool", "CallSettings", "ServiceChoice"} <= set(schemas)
    create = doc["paths"]["/api/v1/workflows"]["post"]
    body = schemas[create["requestBody"]["content"]["application/json"]["schema"]["$ref"]
                   .rsplit("/", 1)[-1]]
    assert body["additionalProperties"] is False
    assert {"$ref": "#/components/schemas/Workflow"} in body["properties"]["definition"]["anyOf"]
    assert schemas["ErrorDetail"]["required"] == ["pointer", "code", "message"]
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            for status, response in op["responses"].items():
                if status[0] in "45" and "content" in response:
                    ref = response["content"]["application/json"]["schema"]["$ref"]
                    assert ref == "#/components/schemas/Error", (method, path, status)
    delete = doc["paths"]["/api/v1/workflows/{workflow_id}"]["delete"]
    assert {"204", "409", "404"} <= set(delete["responses"])
    version = doc["paths"]["/api/v1/workflows/{workflow_id}/versions/{version}"]["get"]
    assert version["parameters"][1]["schema"]["maximum"] == 2**31 - 1
