"""Finding 4: members (and member API keys) could place calls, transfer, send DTMF, hang up
and run HTTP tools through chat. One permission matrix (server/auth/permissions.py) now
decides every route's role; this walks every mutating route of the app with a member token
and a member API key and expects 403 wherever the matrix asks for more than a member."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest

from server.auth.permissions import MATRIX, MUTATING, markdown_table, required_role
from server.routes import all_routers
from tests.members import add_member

pytestmark = pytest.mark.integration
README = Path(__file__).resolve().parents[2] / "README.md"


def _endpoints():
    return [ep for router in all_routers() for ep in router.endpoints]


def _fill(path: str) -> str:
    def value(match: re.Match[str]) -> str:
        kind = match.group(2)
        return {"uuid": str(uuid.uuid4()), "int": "1"}.get(kind or "", "deepgram")

    return re.sub(r"\{(\w+)(?::(\w+))?\}", value, path)


def test_every_route_is_in_the_matrix():
    routes = {(ep.method, ep.path): ep for ep in _endpoints()}
    missing = sorted(set(routes) - set(MATRIX))
    assert not missing, f"add these routes to server/auth/permissions.py MATRIX: {missing}"
    stale = sorted(set(MATRIX) - set(routes))
    assert not stale, f"MATRIX lists routes the app does not have: {stale}"
    for key, ep in routes.items():
        assert (MATRIX[key] == "public") == (ep.auth is None), key


def test_readme_table_matches_the_matrix():
    assert markdown_table() in README.read_text(), (
        "README permission table is stale: paste server.auth.permissions.markdown_table()")


def test_unlisted_mutating_route_fails_closed():
    assert required_role("POST", "/api/v1/not-in-the-matrix", "member") == "admin"
    assert required_role("GET", "/api/v1/not-in-the-matrix", "member") == "member"


async def test_member_token_and_member_key_get_403_on_every_admin_route(client, make_user):
    owner = await make_user()
    member = await make_user()
    member_headers = await add_member(client, owner, member)
    key = await client.post("/api/v1/api-keys", json={"name": "ro", "role": "member"},
                            headers=owner.headers)
    key_headers = {"Authorization": f"Bearer {key.json()['key']}"}

    checked = []
    for ep in _endpoints():
        if ep.method not in MUTATING or MATRIX.get((ep.method, ep.path)) in ("public", "member"):
            continue
        url = _fill(ep.path)
        for who, headers in (("member token", member_headers), ("member key", key_headers)):
            r = await client.request(ep.method, url, json={}, headers=headers)
            assert r.status_code == 403, f"{who}: {ep.method} {ep.path} -> {r.status_code}"
        checked.append((ep.method, ep.path))
    for route in [("POST", "/api/v1/calls"), ("POST", "/api/v1/calls/{call_id:uuid}/transfer"),
                  ("POST", "/api/v1/calls/{call_id:uuid}/dtmf"),
                  ("POST", "/api/v1/calls/{call_id:uuid}/hangup"),
                  ("POST", "/api/v1/workflows/{workflow_id:uuid}/chat"),
                  ("POST", "/api/v1/webrtc/offer")]:
        assert route in checked


async def test_members_still_read(client, make_user):
    owner = await make_user()
    member = await make_user()
    headers = await add_member(client, owner, member)
    for path in ("/api/v1/organization", "/api/v1/calls", "/api/v1/workflows", "/api/v1/usage"):
        r = await client.get(path, headers=headers)
        assert r.status_code == 200, (path, r.text)
