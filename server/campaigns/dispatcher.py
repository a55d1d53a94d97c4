"""The campaign dispatcher: no singleton, every instance runs one.

A tick, for each campaign with work: lock the campaign row (``FOR UPDATE SKIP LOCKED``: one
instance at a time paces a campaign, others skip it this round), settle contacts whose last
attempt ended (retry policy), lease again attempts left ``dialing`` by a dead dialer, count
what is in flight and what was dialed in the last minute (so ``max_concurrent_calls`` and
``calls_per_minute`` hold across instances), claim due contacts inside their calling window
and write their attempts, each with a unique idempotency key, then commit. Only then are the
carriers asked to dial (off the tick), each request carrying its attempt's key: a dial that
dies half-way is re-sent with the same key after its lease, and the carrier places it once.

Every server instance runs the loop from start-up (``server/app.py``): a tick every
``CAMPAIGN_TICK_SECONDS`` while campaigns run, a look every ``IDLE_TICKS`` ticks (at most
``IDLE_POLL_SECONDS``) otherwise,
and at once on start/resume. (Job-queue schedules run once per interval across the fleet, so
they cannot be what every instance relies on; ``campaigns.dispatch`` only restarts a loop.)
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID, uuid4

import asyncpg
import structlog

from db import campaigns as campaigns_db
from server.campaigns import dialing
from server.campaigns.events import contact_completed, emit_campaign
from server.campaigns.models import CampaignConfig, zone
from server.campaigns.windows import Clock, SystemClock, next_open

if TYPE_CHECKING:
    from server.services import Services

log = structlog.get_logger(__name__)

REFUSED_RETRY_SECONDS = 5.0  # admission refused (org concurrency, plan): try again after
IDLE_TICKS, IDLE_POLL_SECONDS = 10, 5.0  # an idle instance looks for work every 10 ticks, <= 5 s


@dataclass
class TickResult:
    dialed: int = 0
    resent: int = 0
    settled: int = 0


@dataclass
class Dispatcher:
    services: Services
    clock: Clock = field(default_factory=SystemClock)
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)
    _wake: asyncio.Event = field(default_factory=asyncio.Event)
    _loop: asyncio.Task[None] | None = None
    stopped: bool = False
    dialed: int = 0  # attempts this instance claimed and dialed (for operators and tests)

    # -- the loop ----------------------------------------------------------------------------
    def wake(self) -> None:
        """Tick now (start/resume, a settled attempt) and keep ticking while campaigns run."""
        self._wake.set()
        self.ensure_running()

    def ensure_running(self) -> None:
        if self.stopped or (self._loop is not None and not self._loop.done()):
            return
        self._loop = asyncio.get_running_loop().create_task(self._run(), name="campaigns")

    async def _run(self) -> None:
        every = self.services.settings.campaign_tick_seconds
        while not self.stopped:
            self._wake.clear()
            try:
                busy = await self.tick()
            except Exception as exc:  # noqa: BLE001 - the loop outlives one bad tick
                log.warning("campaign_tick_failed", error=f"{type(exc).__name__}: {exc}"[:300])
                busy = True
            # idle: a cheap look now and then (start/resume wake it at once)
            with contextlib.suppress(TimeoutError):
                idle = min(every * IDLE_TICKS, IDLE_POLL_SECONDS)
                await asyncio.wait_for(self._wake.wait(), every if busy else idle)

    async def stop(self) -> None:
        """Stop ticking and abandon in-flight dials (they are re-sent after their lease)."""
        self.stopped = True
        pending = [t for t in (self._loop, *self.tasks) if t is not None]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    # -- one tick ----------------------------------------------------------------------------
    async def tick(self) -> bool:
        """One pass over every campaign with work; whether any has work left."""
        active = await campaigns_db.active_campaigns(self.services.db)
        for row in active:
            await self.tick_campaign(row["organization_id"], row["id"])
        return bool(active)

    async def tick_campaign(self, organization_id: UUID, campaign_id: UUID) -> TickResult:
        services, now = self.services, self.clock.now()
        lease = services.settings.campaign_dial_lease_seconds
        result = TickResult()
        completed: list[Any] = []
        finished = False
        async with services.db.acquire() as conn, conn.transaction():
            campaign = await campaigns_db.lock(conn, organization_id, campaign_id)
            if campaign is None:
                return result  # another instance is on it
            config = CampaignConfig.model_validate(campaign["config"])
            await campaigns_db.end_attempts_of_ended_calls(conn, organization_id, campaign_id)
            completed = await self._settle(conn, campaign, config, now)
            result.settled = len(completed)
            stale = await campaigns_db.stale_dialing(conn, organization_id, campaign_id, lease)
            claimed: list[tuple[UUID, Any, int, str, UUID, str]] = []
            if campaign["state"] == "running":
                claimed = await self._claim(conn, campaign, config, now, lease)
                finished = await self._finished(conn, campaign)
        for attempt in stale:
            self._spawn(self._resend(campaign, config, attempt), attempt["id"])
        for attempt_id, contact, number, key, call_id, caller_id in claimed:
            attempt = dialing.Attempt(attempt_id, contact["id"], number, key, call_id,
                                      caller_id, contact["phone_number"],
                                      dict(contact["variables"] or {}))  # fmt: skip
            self._spawn(self._dial(campaign, config, attempt), attempt_id)
        for contact in completed:
            await contact_completed(services, campaign, contact)
        if finished:
            await emit_campaign(services, campaign, "campaign.completed")
        result.dialed, result.resent = len(claimed), len(stale)
        self.dialed += len(claimed)
        return result

    async def _settle(self, conn: asyncpg.Connection, campaign: Any, config: CampaignConfig,
                      now: datetime) -> list[Any]:  # fmt: skip
        """Contacts whose last attempt ended: retried, or final. The final ones are returned."""
        rows = await campaigns_db.settled_contacts(conn, campaign["organization_id"], campaign["id"])
        updates, final = [], []
        for row in rows:
            outcome = row["outcome"]
            retry = (outcome in config.retry.retry_on and row["attempts"] < config.retry.max_attempts
                     and campaign["state"] != "canceled")  # fmt: skip
            if retry:
                at = now + timedelta(seconds=config.retry.delay_after(row["attempts"]))
                updates.append((row["id"], "pending", at, outcome, False))
            else:
                updates.append((row["id"], outcome, now, outcome, True))
                final.append(row)
        if updates:
            await campaigns_db.settle_contacts(conn, campaign["organization_id"], updates)
        return final

    async def _claim(self, conn: asyncpg.Connection, campaign: Any, config: CampaignConfig,
                     now: datetime, lease: float) -> list[tuple[UUID, Any, int, str, UUID, str]]:  # fmt: skip
        org, campaign_id = campaign["organization_id"], campaign["id"]
        in_flight, recent = await campaigns_db.load(conn, org, campaign_id, now - timedelta(minutes=1))
        room = min(campaign["max_concurrent_calls"] - in_flight,
                   campaign["calls_per_minute"] - recent)  # fmt: skip
        if room <= 0:
            return []
        schedule, claimed, deferred = config.schedule, [], []
        candidates = await campaigns_db.due_contacts(conn, org, campaign_id, now, room * 4 + 16)
        callers = list(campaign["caller_ids"])
        for contact in candidates:
            tz = zone(contact["time_zone"] if schedule.use_contact_time_zone
                      else schedule.time_zone)  # fmt: skip
            opens = next_open(schedule, tz, now)
            if opens is None or opens > now:  # outside its window: skip until it opens
                deferred.append((contact["id"], opens or datetime.max.replace(tzinfo=now.tzinfo)))
                continue
            if len(claimed) < room:
                attempt_id, number = uuid4(), contact["attempts"] + 1
                caller = callers[(contact["row_number"] + number) % len(callers)]
                key = f"sb-{attempt_id.hex}"
                claimed.append((attempt_id, contact, number, key, uuid4(), caller))
        if deferred:
            await campaigns_db.defer_contacts(conn, org, deferred)
        if claimed:
            await campaigns_db.create_attempts(
                conn, org, campaign_id,
                [(a, c["id"], n, k, call, caller) for a, c, n, k, call, caller in claimed],
                now, lease,
            )  # fmt: skip
        return claimed

    async def _finished(self, conn: asyncpg.Connection, campaign: Any) -> bool:
        counts = await campaigns_db.contact_counts(conn, campaign["organization_id"], campaign["id"])
        if counts.get("pending") or counts.get("calling"):
            return False
        done = await campaigns_db.transition(conn, campaign["organization_id"], campaign["id"],
                                             from_states=("running",), to_state="completed")  # fmt: skip
        return done is not None

    async def _dial(self, campaign: Any, config: CampaignConfig, attempt: dialing.Attempt) -> None:
        refused = await dialing.dial(self.services, campaign, config, attempt)
        if refused:
            retry_at = self.clock.now() + timedelta(seconds=REFUSED_RETRY_SECONDS)
            await campaigns_db.withdraw_attempt(self.services.db, campaign["organization_id"],
                                                attempt.id, attempt.contact_id, retry_at)  # fmt: skip

    async def _resend(self, campaign: Any, config: CampaignConfig, row: Any) -> None:
        if await dialing.resend(self.services, campaign, config, row):
            retry_at = self.clock.now() + timedelta(seconds=REFUSED_RETRY_SECONDS)
            await campaigns_db.withdraw_attempt(self.services.db, campaign["organization_id"],
                                                row["id"], row["contact_id"], retry_at)  # fmt: skip

    def _spawn(self, coro: Any, attempt_id: UUID) -> None:
        task = asyncio.get_running_loop().create_task(coro, name=f"campaign-dial-{attempt_id}")
        self.tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("campaign_dial_crashed", error=str(task.exception())[:300])


def dispatcher_for(services: Services) -> Dispatcher:
    """This instance's dispatcher (made on first use)."""
    if services.campaigns is None:
        services.campaigns = Dispatcher(services)
    return services.campaigns


async def scheduled_tick(services: Services) -> None:
    """The fleet-wide schedule: the loop of the instance that runs it is up (a safety net)."""
    dispatcher_for(services).ensure_running()
