"""Finding 15: deeply nested JSON to any JSON route (login included) was a 500
(RecursionError in the parser), and a deeply nested workflow definition, once saved, made
every later GET/export/duplicate of it a 500."""

from __future__ import annotations

import re
import uuid

import pytest

from runtime.templates import order_desk
from server.routes import all_routers

pytestmark = pytest.mark.integration

_PARAM = re.compile(r"{([a-zA-Z_]+)(?::([a-z]+))?}")


def _concrete(path: str) -> str:
    values = {"uuid": str(uuid.uuid4()), "int": "1"}
    return _PARAM.sub(lambda m: values.get(m.group(2) or "", "x"), path)


def _json_routes() -> list[tuple[str, str]]:
    return sorted({(ep.method, _concrete(ep.path)) for router in all_routers()
                   for ep in router.endpoints if ep.body is not None})


@pytest.mark.parametrize("payload", [b"[" * 2000, b'{"a":' * 100 + b"1" + b"}" * 100])
async def test_deeply_nested_json_is_a_4xx_on_every_json_route(client, make_user, payload):
    user = await make_user()
    routes = _json_routes()
    assert ("POST", "/api/v1/auth/login") in routes
    for method, path in routes:
        r = await client.request(method, path, content=payload, headers={
            **user.headers, "content-type": "application/json"})
        assert 400 <= r.status_code < 500, (method, path, r.status_code, r.text)
        assert r.json()["error"]["details"][0]["pointer"].startswith("/")
    assert (await client.get("/health/live")).status_code == 200


def _nested(depth: int) -> dict:
    schema: dict = {"type": "object", "properties": {}}
    node = schema
    for _ in range(depth):
        node["properties"] = {"a": {"type": "object", "properties": {}}}
        node = node["properties"]["a"]
    return schema


async def test_a_too_deep_definition_is_refused_at_save(client, make_user):
    user = await make_user()
    definition = order_desk()
    definition["tools"][0]["parameters"] = _nested(20)  # 45 levels from the definition root
    r = await client.post("/api/v1/workflows", json={"name": "deep", "definition": definition},
                          headers=user.headers)
    assert r.status_code == 422, r.text
    detail = r.json()["error"]["details"][0]
    assert detail["code"] == "nesting_too_deep"
    assert detail["pointer"].startswith("/body/definition/tools/0/parameters")

    ok = await client.post("/api/v1/workflows", json={"name": "ok", "definition": order_desk()},
                           headers=user.headers)
    wf = ok.json()["id"]
    r = await client.patch(f"/api/v1/workflows/{wf}", json={"definition": definition},
                           headers=user.headers)
    assert r.status_code == 422
    r = await client.post("/api/v1/workflows/import", headers=user.headers,
                          json={"name": "deep", "definition": definition})
    assert r.status_code == 422
    # Deeper than the body limit: refused before anything is parsed into a workflow.
    definition["tools"][0]["parameters"] = _nested(150)
    r = await client.post("/api/v1/workflows", json={"name": "deeper", "definition": definition},
                          headers=user.headers)
    assert r.status_code in (400, 422)
    for suffix in ("", "/export"):
        assert (await client.get(f"/api/v1/workflows/{wf}{suffix}",
                                 headers=user.headers)).status_code == 200
