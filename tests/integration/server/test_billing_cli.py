"""`switchboard set-plan` works against the catalog PLANS_FILE makes, and a bad PLANS_FILE
stops the command with the plan and field named."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from uuid import UUID

from tests.integration.server.billing_helpers import plans_file

STARTER = """
[plans.starter]
included_minutes = 300
max_concurrent_calls = 3
max_workflows = 3
max_phone_numbers = 1
"""


def _switchboard(database_url: str, plans: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url, "PLANS_FILE": str(plans), "ENV": "test"}
    return subprocess.run([sys.executable, "-m", "server.cli", *argv], capture_output=True,
                          text=True, timeout=120, env=env)  # fmt: skip


async def test_set_plan_uses_the_plans_file(database_url, data_dir, make_user, server) -> None:  # type: ignore[no-untyped-def]
    owner = await make_user()
    path = plans_file(data_dir)
    path.write_text(path.read_text() + STARTER)
    done = _switchboard(database_url, path, "set-plan", "--org", owner.organization_id,
                        "--plan", "starter")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "plan starter" in done.stdout
    row = await server.services.db.fetchrow(
        "SELECT plan, max_concurrent_calls FROM organizations WHERE id = $1",
        UUID(owner.organization_id))  # fmt: skip
    assert (row["plan"], row["max_concurrent_calls"]) == ("starter", 3)

    unknown = _switchboard(database_url, path, "set-plan", "--org", owner.organization_id,
                           "--plan", "gold")  # fmt: skip
    assert unknown.returncode == 2 and "unknown plan 'gold'" in unknown.stderr

    bad = data_dir / "bad-plans.toml"
    bad.write_text("[plans.starter]\nincluded_minutes = -5\n")
    refused = _switchboard(database_url, bad, "set-plan", "--org", owner.organization_id,
                           "--plan", "starter")  # fmt: skip
    assert refused.returncode == 2
    assert "plan 'starter'" in refused.stderr and "included_minutes" in refused.stderr
