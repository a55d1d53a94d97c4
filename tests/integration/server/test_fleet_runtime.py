"""The fleet's database side on a database of its own: the lost-call sweeper (bounds, end
reasons, turns kept, slot released, one sweeper at a time) and the shared-key check (two
instances on one database: same keys work across them, different keys are refused)."""

from __future__ import annotations

import asyncio
import gc
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from db import calls as calls_db
from db import fleet as fleet_db
from db.pool import create_pool
from server.app import open_services
from server.coordination import InProcessBus, InProcessLimiter, fleet
from server.coordination.shared_keys import KeysDiffer, check_shared_keys, record_rotated
from server.services import Services
from server.settings import SettingsError
from tests.conftest import fresh_database, make_settings


@pytest.fixture
async def own_database(database_url: str) -> AsyncIterator[str]:
    async with fresh_database(database_url, "sb_fleetrt") as url:
        yield url


@pytest.fixture
async def pool(own_database: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(own_database, min_size=1, max_size=4)
    yield pool
    await pool.close()


async def _call(pool: asyncpg.Pool, org: uuid.UUID, *, answered: bool, age: float,
                heartbeat_age: float | None) -> uuid.UUID:  # fmt: skip
    row = await calls_db.create(
        pool, org, workflow_id=None, workflow_version=None, channel="twilio",
        direction="inbound", from_number=None, to_number=None, status="queued", carrier=None,
        carrier_call_id=None, test=False, variables={}, metadata={},
    )  # fmt: skip
    if answered:
        await calls_db.mark_answered(pool, row["id"], engine="offline-scripted")
    await pool.execute(
        """UPDATE calls SET created_at = now() - make_interval(secs => $2),
                  answered_at = CASE WHEN answered_at IS NULL THEN NULL
                                     ELSE now() - make_interval(secs => $2) END,
                  heartbeat_at = now() - make_interval(secs => $3)
            WHERE id = $1""",
        row["id"], age, heartbeat_age,
    )  # fmt: skip
    return row["id"]


async def test_the_sweeper_finalizes_silent_calls_only(pool: asyncpg.Pool, tmp_path: Path) -> None:
    org = await pool.fetchval("INSERT INTO organizations (name) VALUES ('f') RETURNING id")
    lost = await _call(pool, org, answered=True, age=100, heartbeat_age=40)
    never = await _call(pool, org, answered=False, age=100, heartbeat_age=None)
    alive = await _call(pool, org, answered=True, age=100, heartbeat_age=1)
    young = await _call(pool, org, answered=False, age=1, heartbeat_age=None)
    now = datetime.now(UTC)
    await calls_db.insert_turns(pool, org, lost, [{
        "idx": 0, "speaker": "agent", "text": "Hello there.", "started_at": now,
        "ended_at": now, "interrupted": False}])  # fmt: skip

    # another instance holds the sweep: this one does nothing
    async with pool.acquire() as other, other.transaction():
        await other.execute("SELECT pg_advisory_xact_lock($1)", fleet_db.SWEEP_LOCK)
        assert await fleet_db.sweep_lost(pool, lost_after_seconds=30) is None

    limiter = InProcessLimiter()
    assert await limiter.acquire(str(org), str(lost), 5)
    services = Services(settings=make_settings(None, tmp_path, call_lost_after_seconds=30),  # type: ignore[arg-type]
                        db=pool, signer=None, secret_box=None, limiter=limiter,  # type: ignore[arg-type]
                        bus=InProcessBus())  # fmt: skip
    assert await fleet.sweep(services) == 2
    rows = {r["id"]: r for r in await calls_db.list_for_org(pool, org, limit=10)}
    assert (rows[lost]["status"], rows[lost]["end_reason"]) == ("failed", "instance_lost")
    # ended at its last heartbeat, answered 100 s before: 60 s carried
    assert 55 < rows[lost]["duration_seconds"] < 65
    assert (rows[never]["status"], rows[never]["end_reason"]) == ("failed", "never_connected")
    assert rows[alive]["ended_at"] is None and rows[young]["ended_at"] is None
    assert [t["text"] for t in await calls_db.list_turns(pool, org, lost)] == ["Hello there."]
    assert await limiter.count(str(org)) == 0  # the lost call's slot is free again
    assert await fleet.sweep(services) == 0  # finalized once


async def test_heartbeat_stamps_the_calls_an_instance_carries(pool: asyncpg.Pool) -> None:
    org = await pool.fetchval("INSERT INTO organizations (name) VALUES ('h') RETURNING id")
    call = await _call(pool, org, answered=True, age=100, heartbeat_age=90)
    assert await fleet_db.heartbeat(pool, "host:1:abc", [call]) == 1
    row = await pool.fetchrow("SELECT heartbeat_at > now() - interval '5 seconds' AS fresh, "
                              "instance_id FROM calls WHERE id = $1", call)  # fmt: skip
    assert row["fresh"] and row["instance_id"] == "host:1:abc"
    assert await fleet_db.sweep_lost(pool, lost_after_seconds=30) == []


def _pem() -> str:
    key = Ed25519PrivateKey.generate()
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()  # fmt: skip


async def test_key_fingerprints_refuse_other_keys(pool: asyncpg.Pool) -> None:
    jwt_a, jwt_b = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    await check_shared_keys(pool, jwt_a, old)
    await check_shared_keys(pool, jwt_a, old)  # the same keys again: fine
    with pytest.raises(KeysDiffer, match="Set JWT_PRIVATE_KEY"):
        await check_shared_keys(pool, jwt_b, old)
    with pytest.raises(KeysDiffer, match="Set SECRET_KEYS"):
        await check_shared_keys(pool, jwt_a, new)
    await check_shared_keys(pool, jwt_a, f"{new},{old}")  # rotation under way
    await record_rotated(pool, f"{new},{old}")  # `switchboard rotate-keys` finished
    with pytest.raises(KeysDiffer):
        await check_shared_keys(pool, jwt_a, old)


async def test_two_instances_on_one_database(own_database: str, tmp_path: Path) -> None:
    shared: dict[str, Any] = {"jwt_private_key": _pem(),
                              "secret_keys": Fernet.generate_key().decode()}  # fmt: skip
    a = make_settings(own_database, tmp_path / "a", warmup=False, **shared)
    b = make_settings(own_database, tmp_path / "b", warmup=False, **shared)
    async with open_services(a) as on_a, open_services(b) as on_b:
        user, org = uuid.uuid4(), uuid.uuid4()
        token, _ = on_a.signer.issue(user, org, "owner")
        assert on_b.signer.verify(token).user_id == user
        assert on_b.secret_box.decrypt(on_a.secret_box.encrypt("carrier-token")) == "carrier-token"
    # an instance with keys of its own (generated into its data directory) is refused
    with pytest.raises(SettingsError, match="JWT_PRIVATE_KEY"):
        async with open_services(make_settings(own_database, tmp_path / "c", warmup=False)):
            pass


async def test_the_autoscaler_metrics_are_exported(client: Any) -> None:
    async def ticks() -> float:
        text = (await client.get("/metrics")).text
        assert "switchboard_live_calls " in text and "switchboard_max_live_calls " in text
        [count] = [line for line in text.splitlines()
                   if line.startswith("switchboard_event_loop_lag_seconds_count")]  # fmt: skip
        return float(count.split()[-1])

    first = await ticks()
    await asyncio.sleep(0.3)
    assert await ticks() > first  # the 10 ms ticker runs


async def test_collector_pauses_and_pool_use_are_exported(client: Any) -> None:
    gc.collect()  # the server runs in this process: its collector callback sees this one

    text = (await client.get("/metrics")).text
    samples = dict(line.rsplit(" ", 1) for line in text.splitlines() if not line.startswith("#"))
    assert float(samples['switchboard_gc_pause_seconds_count{generation="2"}']) >= 1
    assert "switchboard_event_loop_stalls_total" in samples
    assert float(samples["switchboard_db_pool_size"]) >= 1
    assert float(samples["switchboard_db_pool_max"]) >= float(samples["switchboard_db_pool_size"])
    assert 0 <= float(samples["switchboard_db_pool_in_use"]) <= float(samples["switchboard_db_pool_size"])


async def test_a_stopped_apps_pool_leaves_the_gauges(client: Any, server: Any, run_dir: Path,
                                                    database_url: str) -> None:  # fmt: skip
    # tests (and a process embedding two apps) run several apps: the pool gauges read the
    # pools of the apps still running, not the last one started (closed: it read 0)
    from tests.conftest import make_settings, run_server

    base = server.services.settings.data_dir
    keys = {"jwt_private_key": (base / "jwt_ed25519.pem").read_text(),
            "secrets_key": (base / "secrets.key").read_text().strip()}  # fmt: skip
    data_dir = run_dir / f"second-app-{uuid.uuid4().hex[:6]}"
    data_dir.mkdir()
    async with run_server(make_settings(database_url, data_dir, **keys)):
        pass
    text = (await client.get("/metrics")).text
    samples = dict(line.rsplit(" ", 1) for line in text.splitlines() if not line.startswith("#"))
    assert float(samples["switchboard_db_pool_size"]) >= 1
    assert float(samples["switchboard_db_pool_max"]) >= server.services.db.get_max_size()
