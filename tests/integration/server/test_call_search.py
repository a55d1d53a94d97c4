"""The calls list's console filters: direction, number, end reason, dates, status, workflow
and full-text search in transcripts; org-scoped; strict query validation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest

from db import calls as calls_db
from db.calls import CallStatus
from tests.realtime.pipeline.test_pipeline_call import WORKFLOW
from tests.realtime.server.test_webrtc_calls import publish_workflow


async def _call(db, org: str, *, direction: str, from_number: str | None = None,
                to_number: str | None = None, end_reason: str | None = None,
                workflow_id: str | None = None, said: tuple[str, ...] = ()) -> str:  # fmt: skip
    row = await calls_db.create(
        db, UUID(org), workflow_id=UUID(workflow_id) if workflow_id else None,
        workflow_version=1, channel="webrtc" if direction == "browser" else "acme",
        direction=direction, from_number=from_number, to_number=to_number, status="in-progress",
        carrier=None, carrier_call_id=None, test=False, variables={}, metadata={},
    )  # fmt: skip
    now = datetime.now(UTC)
    await calls_db.insert_turns(db, UUID(org), row["id"], [
        {"idx": i, "speaker": "user" if i % 2 == 0 else "agent", "text": text,
         "started_at": now, "ended_at": now, "interrupted": False}
        for i, text in enumerate(said)
    ])  # fmt: skip
    if end_reason:
        await calls_db.finalize(db, row["id"], status=CallStatus.COMPLETED, end_reason=end_reason)
    return str(row["id"])


async def test_filters_and_transcript_search(client, make_user, server):
    db = server.services.db
    user = await make_user()
    org = user.organization_id
    wf = await publish_workflow(client, user.headers, WORKFLOW)
    refund = await _call(db, org, direction="inbound", from_number="+15551230001",
                         to_number="+15559990000", end_reason="caller_hangup", workflow_id=wf,
                         said=("I want a refund for my order", "Sure, refunds take five days"))  # fmt: skip
    booking = await _call(db, org, direction="outbound", from_number="+15559990000",
                          to_number="+447700900123", end_reason="agent_ended",
                          said=("Book a table for two", "Booked for Friday"))  # fmt: skip
    browser = await _call(db, org, direction="browser", said=("testing the refund flow",))
    other = await make_user()  # another organization's matching call never shows
    await _call(db, other.organization_id, direction="inbound", from_number="+15551230001",
                end_reason="caller_hangup", said=("refund please",))  # fmt: skip

    async def ids(**params) -> set[str]:
        response = await client.get("/api/v1/calls", params=params, headers=user.headers)
        assert response.status_code == 200, response.text
        return {c["id"] for c in response.json()["items"]}

    assert await ids() == {refund, booking, browser}
    assert await ids(direction="outbound") == {booking}
    assert await ids(direction="browser") == {browser}
    assert await ids(number="5551230") == {refund}
    assert await ids(number="+15559990000") == {refund, booking}  # from or to
    assert await ids(number="447700") == {booking}
    assert await ids(end_reason="agent_ended") == {booking}
    assert await ids(status="in-progress") == {browser}
    assert await ids(workflow_id=wf) == {refund}
    assert await ids(q="refund") == {refund, browser}
    assert await ids(q="refund", direction="inbound") == {refund}
    assert await ids(q='"table for two"') == {booking}
    assert await ids(q="refund -flow") == {refund}
    assert await ids(q="friday or order") == {refund, booking}
    assert await ids(q="nothing-like-this") == set()
    future = (datetime.now(UTC) + timedelta(minutes=5)).isoformat()
    assert await ids(**{"from": future}) == set()
    assert await ids(q="refund", limit=1) <= {refund, browser}


@pytest.mark.parametrize(("params", "pointer"), [
    ({"direction": "sideways"}, "/query/direction"),
    ({"number": "555-123"}, "/query/number"),
    ({"number": "%"}, "/query/number"),
    ({"end_reason": "bored"}, "/query/end_reason"),
    ({"status": "nope"}, "/query/status"),
    ({"q": ""}, "/query/q"),
    ({"q": "x" * 201}, "/query/q"),
    ({"from": "yesterday"}, "/query/from"),
    ({"from": "2026-02-02T00:00:00Z", "to": "2026-02-01T00:00:00Z"}, "/query/from"),
    ({"unknown": "1"}, "/query/unknown"),
])  # fmt: skip
async def test_bad_filters_are_422_with_a_pointer(client, make_user, params, pointer):
    user = await make_user()
    response = await client.get("/api/v1/calls", params=params, headers=user.headers)
    assert response.status_code == 422, response.text
    assert pointer in [d["pointer"] for d in response.json()["error"]["details"]]
