"""Shared by the billing tests: a PLANS_FILE, minutes of usage, a signed-up tenant."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx

from db import calls as calls_db
from db import usage as usage_db

# free: one included minute, hard-capped; two workflows, one number; no recording, no
# bring-your-own-keys. pro: overage allowed.
PLANS_TOML = """
[plans.free]
display_name = "Free (tests)"
included_minutes = 1
overage = "hard_cap"
max_concurrent_calls = 10
max_workflows = 2
max_phone_numbers = 1
features = ["cloud_providers"]

[plans.pro]
display_name = "Pro (tests)"
stripe_price_id = "price_pro_tests"
stripe_metered_price_id = "price_pro_tests_minutes"
included_minutes = 1
overage = "allowed"
max_concurrent_calls = 10
max_workflows = 5
max_phone_numbers = 5
features = ["recording", "campaigns", "bring_your_own_keys", "cloud_providers"]
"""


def plans_file(directory: Path) -> Path:
    path = directory / f"plans-{uuid.uuid4().hex[:8]}.toml"
    path.write_text(PLANS_TOML)
    return path


async def add_call_seconds(pool: Any, organization_id: UUID, seconds: float) -> UUID:
    """A finished call with ``seconds`` of billable time, as a call's records leave it."""
    call = await calls_db.create(
        pool, organization_id, workflow_id=None, workflow_version=None, channel="webrtc",
        direction="browser", from_number=None, to_number=None, status="completed",
        carrier=None, carrier_call_id=None, test=False, variables={}, metadata={},
    )  # fmt: skip
    await usage_db.upsert_for_call(pool, organization_id, call["id"], None,
                                   [("call_seconds", "webrtc", "", float(seconds))])  # fmt: skip
    return call["id"]


async def signup(http: httpx.AsyncClient) -> tuple[dict[str, str], UUID]:
    email = f"bill-{uuid.uuid4().hex[:8]}@example.com"
    r = await http.post("/api/v1/auth/signup", json={"email": email, "password": "correct horse battery"})
    assert r.status_code == 201, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}, UUID(r.json()["organization_id"])
