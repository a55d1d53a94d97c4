"""Campaigns dispatched by real ``switchboard serve`` processes against the fake Twilio REST
API, on a database of their own:

- a process SIGKILLed while a dial is in the carrier's hands (the request arrived, the answer
  never came back) and restarted: the attempt is re-sent with its idempotency key, so the
  carrier places every contact's call once, and every contact reaches a final state;
- two processes on one PostgreSQL dispatching one campaign: every contact dialed once, and
  never more than ``max_concurrent_calls`` (3) calls up at the carrier at once.

What the carrier saw is counted at the fake: create requests per idempotency key, calls it
placed per number, calls up (created, not yet ended) at any moment. The two processes are
started once for the module (a process start is most of each test's time): the two-process
test runs first; the SIGKILL test then stops B and kills and restarts A.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from db.pool import create_pool
from tests.conftest import fresh_database
from tests.fakes.carriers.twilio_rest import FakeTwilioRest, RecordedRequest
from tests.integration.server.campaign_carrier import PUBLIC, SID, TOKEN, Org, carrier
from tests.realtime.fleet.harness import Process, base_env, free_port, shared_keys

pytestmark = pytest.mark.redis

LEASE = 3.0  # a dial unanswered this long is re-sent by whichever instance ticks


@dataclass
class Fleet:
    a: Process
    b: Process
    env: dict[str, str]
    fake: FakeTwilioRest
    pool: asyncpg.Pool
    root: Path


@pytest.fixture(scope="module")
async def fleet(database_url: str, run_dir: Path, redis_url: str,
                redis_prefix: str) -> AsyncIterator[Fleet]:  # fmt: skip
    root = run_dir / f"campproc-{uuid.uuid4().hex[:6]}"
    async with fresh_database(database_url, "sb_campproc") as own, \
            FakeTwilioRest(SID, TOKEN) as fake:  # fmt: skip
        env = base_env(
            **shared_keys(), env="test", database_url=own, redis_url=redis_url,
            redis_prefix=f"{redis_prefix}-cp", public_url=PUBLIC,
            twilio_api_base_url=fake.http_url, allow_private_urls="true", log_level="info",
            log_format="json", campaign_tick_seconds=0.1, campaign_dial_lease_seconds=LEASE,
            # the restarted process's sweeper must not end the in-doubt call first (in
            # production the lease, 30 s, is also shorter than CALL_LOST_AFTER_SECONDS, 60 s)
            call_heartbeat_seconds=1, call_lost_after_seconds=60, call_sweep_seconds=1,
            shutdown_grace_seconds=1,
        )  # fmt: skip
        a = Process("A", ["serve"], env, root / "a", free_port())
        b = Process("B", ["serve"], env, root / "b", free_port())
        pool = await create_pool(own, min_size=1, max_size=2)
        try:
            async with _processes(a, b):
                yield Fleet(a, b, env, fake, pool, root)
        finally:
            fake.unstall.set()
            await pool.close()


@contextlib.asynccontextmanager
async def _processes(*procs: Process) -> AsyncIterator[None]:
    try:
        await asyncio.gather(*(p.start() for p in procs))
        await asyncio.gather(*(p.ready() for p in procs))
        yield
    finally:
        await asyncio.gather(*(p.stop() for p in procs))


def _creates(fake: FakeTwilioRest, numbers: list[str]) -> list[RecordedRequest]:
    return [q for q in fake.requests if q.path.endswith("/Calls.json") and q.get("To") in numbers]


async def _until(predicate: Any, timeout: float, what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def _assert_each_dialed_once(fake: FakeTwilioRest, contacts: list[dict[str, Any]]) -> None:
    for contact in contacts:
        number = contact["phone_number"]
        placed = fake.dialed(number)
        tokens = {q.idempotency_token for q in _creates(fake, [number])}
        assert len(placed) == 1, f"{number} dialed {len(placed)} times"
        assert contact["attempts"] == 1 and len(contact["calls"]) == 1, contact
        assert tokens == {contact["calls"][0]["idempotency_key"]}, (tokens, contact["calls"])
        assert contact["calls"][0]["carrier_call_id"] == placed[0].sid


async def test_two_processes_one_campaign(fleet: Fleet) -> None:
    fake, a, b = fleet.fake, fleet.a, fleet.b
    numbers = [f"+1718555{i:04d}" for i in range(15)]
    fake.create_delay = 0.05  # widen the window between a claim and the carrier's answer
    async with httpx.AsyncClient(base_url=a.url, timeout=30) as http, \
            carrier(fake, a.url, fleet.pool) as scripted:  # fmt: skip
        # calls overlap (the cap of 3 is what holds them back), and the campaign outlasts B's
        # idle look (10 ticks: 1 s): the start request wakes only A; at 0.3 s a quiet machine
        # let A finish before B looked
        scripted.ringing = 1.0
        org = await Org(http).setup()
        campaign_id = await org.campaign([{"phone_number": n} for n in numbers],
                                         max_concurrent_calls=3, retry={"retry_on": []})  # fmt: skip
        assert (await org.act(campaign_id, "start")).status_code == 200
        done = await org.wait_state(campaign_id, "completed", timeout=60)
        contacts = await org.contacts(campaign_id)
    fake.create_delay = 0.0
    assert done["progress"]["states"]["completed"] == len(numbers)
    _assert_each_dialed_once(fake, contacts)
    assert 2 <= fake.max_active <= 3
    # both processes dispatched the campaign (each logs the dials it placed; a dial slower
    # than its lease under load is re-sent with its key, and counted twice)
    dials = {p.name: p.count('"telephony_outbound_call"') for p in (a, b)}
    # a process that dialed nothing says why in its log (one fresh-clone run: {'A': 15, 'B': 0},
    # while local runs split 6-9 / 6-9; the log was gone with the run's directory)
    idle = {p.name: p.log.splitlines()[-40:] for p in (a, b) if not dials[p.name]}
    assert sum(dials.values()) >= len(numbers) and not idle, (dials, idle)


async def test_sigkill_mid_dial_then_restart(fleet: Fleet) -> None:
    fake, first = fleet.fake, fleet.a
    await fleet.b.stop()  # A alone: the restarted A, not B, must carry the campaign on
    numbers = [f"+1646555{i:04d}" for i in range(10)]
    # its dial reaches the carrier, the answer is held until the kill; the 7 after it need
    # more than a second on the 2 slots left, so most are dialed by the restarted process
    victim = numbers[2]
    fake.stall = lambda request: request.get("To") == victim
    async with httpx.AsyncClient(base_url=first.url, timeout=30) as http, \
            carrier(fake, first.url, fleet.pool) as scripted:  # fmt: skip
        scripted.redeliver_for = 60  # callbacks of calls up at the kill wait for the restart
        org = await Org(http).setup()
        # no retries: each contact has exactly one attempt, so one call at the carrier
        campaign_id = await org.campaign([{"phone_number": n} for n in numbers],
                                         retry={"retry_on": []})  # fmt: skip
        assert (await org.act(campaign_id, "start")).status_code == 200
        await _until(lambda: len(fake.dialed(victim)) == 1, 30, "the victim's dial")
        first.kill()
        assert await first.wait(10) != 0
        fake.stall = None
        before = {q.get("To") for q in _creates(fake, numbers)}
        assert len(before) < len(numbers)  # contacts were left to dial after the restart
        # the same process restarted on the same port, database and data directory (and log)
        mark = len(first.log)
        again = Process("A'", ["serve"], fleet.env, fleet.root / "a", first.port)
        async with _processes(again):
            done = await org.wait_state(campaign_id, "completed", timeout=60)
            contacts = await org.contacts(campaign_id)
    assert done["progress"]["states"]["completed"] == len(numbers)  # none lost
    victim_creates = _creates(fake, [victim])
    assert len(victim_creates) >= 2  # sent before the kill, re-sent after the restart ...
    assert len({q.idempotency_token for q in victim_creates}) == 1  # ... with one key
    _assert_each_dialed_once(fake, contacts)  # so the carrier placed one call per contact
    assert again.log[mark:].count('"campaign_attempt_resent"') >= 1  # by the restarted A
