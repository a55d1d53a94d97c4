"""The console's routes: the page at / and its client-side paths (CSP, no other origin), its
assets under /console/ (no index, no traversal), and GET /api/v1/console/summary (numbers
of the caller's organization only, never another's, whatever a turn row claims)."""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import UTC, datetime, timedelta
from uuid import UUID

from db import calls as calls_db


async def test_console_page_and_client_routes(client):
    for path in ("/", "/signin", "/workflows", "/workflows/new",
                 "/calls/5f0c1a52-8d0b-4d3e-9a39-2a8f4c3f8b11", "/settings/keys"):  # fmt: skip
        response = await client.get(path)
        assert response.status_code == 200, path
        assert response.headers["content-type"].startswith("text/html")
        assert '<div id="app">' in response.text
    page = response.text
    csp = response.headers["content-security-policy"]
    import_map = re.search(r'<script type="importmap">(.*?)</script>', page, re.DOTALL).group(1)
    digest = base64.b64encode(hashlib.sha256(import_map.encode()).digest()).decode()
    assert f"script-src 'self' 'sha256-{digest}'" in csp
    assert "connect-src 'self'" in csp and "default-src 'self'" in csp
    assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert not re.search(r'(src|href)="(https?:)?//', page)  # nothing from another origin


async def test_console_assets(client):
    js = await client.get("/console/js/app.js")
    assert js.status_code == 200
    assert js.headers["content-type"].startswith("text/javascript")
    vendored = await client.get("/console/vendor/preact.mjs")
    assert vendored.status_code == 200
    assert vendored.headers["content-type"].startswith("text/javascript")
    for path in ("/console/index.html", "/console/", "/console/nope.js",
                 "/console/../routes/console.py", "/console/%2e%2e/routes/console.py",
                 "/console/..%2f..%2fapp.py"):  # fmt: skip
        response = await client.get(path)
        assert response.status_code == 404, path
        assert response.json()["error"]["code"] == "not_found", path


async def _call(db, org: str, *, status: str, started: datetime, ended: bool, seconds: float = 0):
    row = await calls_db.create(
        db, UUID(org), workflow_id=None, workflow_version=None, channel="webrtc",
        direction="browser", from_number=None, to_number=None, status=status, carrier=None,
        carrier_call_id=None, test=True, variables={}, metadata={},
    )  # fmt: skip
    await db.execute("UPDATE calls SET started_at = $2, created_at = $2 WHERE id = $1",
                     row["id"], started)  # fmt: skip
    if ended:
        await calls_db.finalize(db, row["id"], status=status, end_reason="test",
                                ended_at=started + timedelta(seconds=seconds),
                                duration_seconds=seconds)  # fmt: skip
    return row["id"]


def _turns(start: datetime, latencies: list[float]) -> list[dict]:
    return [
        {"idx": i, "speaker": "agent", "text": "hi", "started_at": start, "ended_at": start,
         "interrupted": False, "first_audio_out_ms": ms}
        for i, ms in enumerate(latencies)
    ]  # fmt: skip


async def test_summary_counts_only_the_callers_organization(client, make_user, server):
    db = server.services.db
    alice, bob = await make_user(), await make_user()
    now = datetime.now(UTC)
    done = await _call(db, alice.organization_id, status="completed", started=now, ended=True, seconds=90)
    await _call(db, alice.organization_id, status="failed", started=now, ended=True, seconds=30)
    await _call(db, alice.organization_id, status="in-progress", started=now, ended=False)
    await calls_db.insert_turns(db, UUID(alice.organization_id), done, _turns(now, [100, 200, 300, 400]))
    bobs = await _call(db, bob.organization_id, status="failed", started=now, ended=True, seconds=600)
    await calls_db.insert_turns(db, UUID(bob.organization_id), bobs, _turns(now, [9000, 9000]))
    # A turn row that claims Bob's organization on Alice's call counts for neither.
    await calls_db.insert_turns(db, UUID(bob.organization_id), done,
                                [_turns(now, [50_000])[0] | {"idx": 99}])  # fmt: skip

    response = await client.get("/api/v1/console/summary", headers=alice.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["calls_today"] == 3
    assert body["failed_today"] == 1
    assert body["live_calls"] == 1
    assert abs(body["minutes_this_period"] - 2.0) < 1e-6  # 90 s + 30 s
    assert body["voice_to_voice_turns"] == 4
    assert body["voice_to_voice_p50_ms"] == 250  # percentile_cont of 100..400
    assert 380 <= body["voice_to_voice_p95_ms"] <= 400

    other = (await client.get("/api/v1/console/summary", headers=bob.headers)).json()
    assert (other["calls_today"], other["failed_today"], other["live_calls"]) == (1, 1, 0)
    assert other["voice_to_voice_turns"] == 2 and other["voice_to_voice_p50_ms"] == 9000
    assert abs(other["minutes_this_period"] - 10.0) < 1e-6


async def test_summary_needs_authentication_and_members_may_read(client, make_user):
    assert (await client.get("/api/v1/console/summary")).status_code == 401
    owner = await make_user()
    invited = await client.post("/api/v1/organization/members", headers=owner.headers,
                                json={"email": "reader-summary@example.com", "role": "member"})  # fmt: skip
    member = await make_user(email="reader-summary@example.com",
                             invite_token=invited.json()["invite_token"])  # fmt: skip
    response = await client.get("/api/v1/console/summary", headers=member.headers)
    assert response.status_code == 200
    assert response.json()["calls_today"] == 0
