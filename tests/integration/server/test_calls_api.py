"""Call records API (filters, cursor pages, tenancy), usage summaries and call admission."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest

from db import calls as calls_db
from db import organizations as orgs_db
from db import usage as usage_db
from pipeline.events import EndReason
from server.calls.admission import CallLimitExceeded, CallUnavailable, NewCall, end_call, start_call
from tests.realtime.pipeline.test_pipeline_call import WORKFLOW
from tests.realtime.server.test_webrtc_calls import publish_workflow


async def _call(db, org: str, workflow_id: str | None, status: str):
    return await calls_db.create(
        db, UUID(org), workflow_id=UUID(workflow_id) if workflow_id else None,
        workflow_version=1, channel="webrtc", direction="browser", from_number=None,
        to_number=None, status=status, carrier=None, carrier_call_id=None, test=False,
        variables={}, metadata={},
    )  # fmt: skip


async def test_list_filters_and_cursor_pages(client, make_user, server):
    db = server.services.db
    user = await make_user()
    wf_a = await publish_workflow(client, user.headers, WORKFLOW)
    wf_b = await publish_workflow(client, user.headers, WORKFLOW)
    made = []
    for i in range(5):
        row = await _call(db, user.organization_id, wf_a if i % 2 == 0 else wf_b,
                          "completed" if i < 3 else "failed")  # fmt: skip
        made.append(str(row["id"]))
    other = await make_user()
    await _call(db, other.organization_id, None, "completed")

    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/api/v1/calls", params=params, headers=user.headers)).json()
        seen += [c["id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(made))  # newest first, every call once, no foreign call

    def ids(response):
        assert response.status_code == 200, response.text
        return {c["id"] for c in response.json()["items"]}

    get = client.get
    assert ids(await get("/api/v1/calls", params={"status": "failed"}, headers=user.headers)) == set(made[3:])
    assert ids(await get("/api/v1/calls", params={"workflow_id": wf_b}, headers=user.headers)) == {
        made[1],
        made[3],
    }
    future = (datetime.now(UTC) + timedelta(minutes=5)).isoformat()
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    assert ids(await get("/api/v1/calls", params={"from": future}, headers=user.headers)) == set()
    assert ids(await get("/api/v1/calls", params={"to": past}, headers=user.headers)) == set()
    assert ids(await get("/api/v1/calls", params={"from": past}, headers=user.headers)) == set(made)
    bad = await get("/api/v1/calls", params={"status": "nope"}, headers=user.headers)
    assert bad.status_code == 422
    assert (await get("/api/v1/calls", params={"cursor": "%%%"}, headers=user.headers)).status_code == 400
    # A call without a recording has none to serve.
    assert (await get(f"/api/v1/calls/{made[0]}/recording", headers=user.headers)).status_code == 404


async def test_usage_summary_groups_by_day_and_workflow(client, make_user, server):
    db = server.services.db
    user = await make_user()
    org = UUID(user.organization_id)
    wf_a = await publish_workflow(client, user.headers, WORKFLOW)
    wf_b = await publish_workflow(client, user.headers, WORKFLOW)
    day1 = datetime(2026, 3, 1, 12, tzinfo=UTC)
    day2 = datetime(2026, 3, 2, 9, tzinfo=UTC)
    for wf, when, seconds in ((wf_a, day1, 30.0), (wf_a, day2, 10.0), (wf_b, day2, 5.0)):
        call = await _call(db, user.organization_id, wf, "completed")
        await usage_db.upsert_for_call(
            db, org, call["id"], UUID(wf),
            [("call_seconds", "webrtc", "", seconds), ("stt_seconds", "deepgram", "nova-3", seconds / 2),
             ("tts_characters", "espeak", "", 100.0)],
            recorded_at=when,
        )  # fmt: skip
    other = await make_user()
    foreign = await _call(db, other.organization_id, None, "completed")
    await usage_db.upsert_for_call(db, UUID(other.organization_id), foreign["id"], None,
                                   [("call_seconds", "webrtc", "", 999.0)], recorded_at=day1)  # fmt: skip

    params = {"from": "2026-03-01T00:00:00Z", "to": "2026-03-03T00:00:00Z", "group_by": "day"}
    by_day = (await client.get("/api/v1/usage", params=params, headers=user.headers)).json()
    groups = {g["key"]: g for g in by_day["groups"]}
    assert set(groups) == {"2026-03-01", "2026-03-02"}
    assert groups["2026-03-01"]["totals"]["call_seconds"] == 30.0
    assert groups["2026-03-02"]["totals"]["call_seconds"] == 15.0
    assert groups["2026-03-02"]["calls"] == 2
    assert groups["2026-03-02"]["totals"]["stt_seconds"] == 7.5
    assert by_day["totals"]["call_seconds"] == 45.0  # the other org's 999 s are not here
    assert by_day["totals"]["tts_characters"] == 300.0

    params["group_by"] = "workflow"
    by_wf = (await client.get("/api/v1/usage", params=params, headers=user.headers)).json()
    groups = {g["key"]: g["totals"]["call_seconds"] for g in by_wf["groups"]}
    assert groups == {wf_a: 40.0, wf_b: 5.0}

    narrow = {"from": "2026-03-02T00:00:00Z", "to": "2026-03-03T00:00:00Z", "group_by": "day"}
    only_day2 = (await client.get("/api/v1/usage", params=narrow, headers=user.headers)).json()
    assert only_day2["totals"]["call_seconds"] == 15.0
    backwards = {"from": "2026-03-03T00:00:00Z", "to": "2026-03-01T00:00:00Z"}
    assert (await client.get("/api/v1/usage", params=backwards, headers=user.headers)).status_code == 400
    assert (await client.get("/api/v1/usage")).status_code == 401


def _new(org: UUID, workflow_id: UUID, **extra) -> NewCall:
    return NewCall(organization_id=org, workflow_id=workflow_id, channel="webrtc",
                   direction="browser", **extra)  # fmt: skip


async def test_start_call_pins_version_and_enforces_concurrency(client, make_user, server):
    services = server.services
    user = await make_user()
    org = UUID(user.organization_id)
    wf = UUID(await publish_workflow(client, user.headers, WORKFLOW))
    await orgs_db.update(services.db, org, name=None, max_concurrent_calls=1)

    first = await start_call(services, _new(org, wf))
    assert first.workflow_version == 1 and first.definition["nodes"][0]["id"] == "start"
    with pytest.raises(CallLimitExceeded):
        await start_call(services, _new(org, wf))
    rejected = (await client.get("/api/v1/calls", params={"status": "busy"}, headers=user.headers)).json()
    assert [c["end_reason"] for c in rejected["items"]] == ["concurrency_limit"]

    await end_call(services, first.call_id, EndReason.NO_ANSWER)  # releases the slot
    row = await calls_db.get(services.db, org, first.call_id)
    assert row["status"] == "no-answer" and row["ended_at"] is not None
    second = await start_call(services, _new(org, wf, test=True))
    assert second.workflow_version is None  # test calls run the draft
    await end_call(services, second.call_id, EndReason.CANCELED)

    other = await make_user()
    with pytest.raises(CallUnavailable):  # another organization's workflow
        await start_call(services, _new(UUID(other.organization_id), wf))
