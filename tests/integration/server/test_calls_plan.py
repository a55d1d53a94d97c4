"""An organization whose plan allows no calls is refused before anything is persisted."""

from __future__ import annotations

import uuid

import pytest

from db import organizations as orgs_db
from server.calls.admission import CallLimitExceeded, CallUnavailable, NewCall, start_call


async def test_suspended_plan_refuses_calls_and_persists_nothing(server, make_user):
    user = await make_user()
    org = uuid.UUID(user.organization_id)
    services = server.services
    new = NewCall(organization_id=org, workflow_id=uuid.uuid4(), channel="webrtc",
                  direction="browser")  # fmt: skip
    # On the default plan the call gets as far as the workflow check.
    with pytest.raises(CallUnavailable):
        await start_call(services, new)

    assert (await orgs_db.set_plan(services.db, org, "suspended"))["plan"] == "suspended"
    with pytest.raises(CallLimitExceeded, match="suspended"):
        await start_call(services, new)
    count = await services.db.fetchval("SELECT count(*) FROM calls WHERE organization_id = $1", org)
    assert count == 0
