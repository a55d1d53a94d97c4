"""A phone call whose media stream never connects is ended once its stream token can no
longer be used: row finalized, concurrency slot and instance place released. A call whose
stream connected is left alone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

from db import calls as calls_db
from db import carriers as carriers_db
from server.calls.admission import NewCall, start_call
from server.calls.phone.streams import expire_unconnected, token_hash
from server.jobs.registry import SCHEDULES
from tests.realtime.pipeline.test_pipeline_call import WORKFLOW
from tests.realtime.server.test_webrtc_calls import publish_workflow


async def test_unconnected_calls_expire_and_connected_ones_stay(client, make_user, server):
    services = server.services
    user = await make_user()
    org = UUID(user.organization_id)
    wf = UUID(await publish_workflow(client, user.headers, WORKFLOW))

    async def admit() -> UUID:
        handle = await start_call(services, NewCall(organization_id=org, workflow_id=wf,
                                                    channel="twilio", direction="inbound"))  # fmt: skip
        return handle.call_id

    lost, connected = await admit(), await admit()
    assert await services.limiter.count(str(org)) == 2
    assert await carriers_db.claim_stream(services.db, connected)
    assert not await carriers_db.claim_stream(services.db, connected)  # one stream per call

    await expire_unconnected(services, lost, 0)
    await expire_unconnected(services, connected, 0)
    row = await calls_db.get(services.db, org, lost)
    assert (row["status"], row["end_reason"]) == ("canceled", "canceled") and row["ended_at"]
    assert (await calls_db.get(services.db, org, connected))["ended_at"] is None
    assert await services.limiter.count(str(org)) == 1
    assert str(lost) not in services.live_calls.running
    await expire_unconnected(services, lost, 0)  # twice is harmless
    assert not await carriers_db.claim_stream(services.db, lost)  # an ended call takes no stream


async def test_expired_stream_tokens_are_purged_by_a_scheduled_job(client, make_user, server):
    services = server.services
    user = await make_user()
    org = UUID(user.organization_id)
    wf = UUID(await publish_workflow(client, user.headers, WORKFLOW))
    new = NewCall(organization_id=org, workflow_id=wf, channel="twilio", direction="inbound")
    calls = [(await start_call(services, new)).call_id for _ in range(2)]
    add, now, minutes = carriers_db.add_stream_token, datetime.now(UTC), timedelta(minutes=5)
    await add(services.db, org, calls[0], token_hash("old"), now - minutes)
    await add(services.db, org, calls[1], token_hash("fresh"), now + minutes)
    [purge] = [s for s in SCHEDULES if s.name == "calls.purge_stream_tokens"]
    assert await purge.run(services) >= 1
    assert await purge.run(services) == 0  # nothing expired is left
    fresh = await carriers_db.consume_stream_token(services.db, token_hash("fresh"))
    assert fresh is not None and fresh.call_id == calls[1]
