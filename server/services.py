"""The process-wide services every route, job and CLI command shares."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import structlog

from runtime.egress import EgressPolicy
from server.billing.catalog import PlanCatalog
from server.calls.live import LiveCalls
from server.coordination.replay import ReplayGuard

log = structlog.get_logger(__name__)
STOP_BACKGROUND_SECONDS = 10.0  # background work (WebRTC calls included) gets this to end

if TYPE_CHECKING:
    import asyncpg
    import stripe
    from redis.asyncio import Redis

    from db.crypto import SecretBox
    from server.auth.tokens import TokenSigner
    from server.calls.webrtc import WebRTCPeers
    from server.campaigns.dispatcher import Dispatcher
    from server.console_feed import ConsoleFeed
    from server.coordination import ConcurrencyLimiter, ControlBus
    from server.coordination.rate_limit import RateLimits
    from server.jobs.worker import JobWorker
    from server.recordings import Recordings
    from server.routes.workflow_chat import ChatStore
    from server.settings import Settings


@dataclass
class Services:
    settings: Settings
    db: asyncpg.Pool
    signer: TokenSigner
    secret_box: SecretBox
    limiter: ConcurrencyLimiter
    bus: ControlBus
    redis: Redis | None = None
    # call recordings: where they are stored, uploads at the end of calls (server/recordings/)
    recordings: Recordings = None  # type: ignore[assignment]  # open_services sets it
    replay_guard: ReplayGuard = field(default_factory=ReplayGuard)  # carrier webhook replays
    egress: EgressPolicy = field(default_factory=EgressPolicy)  # server/egress.py builds it
    # set on SIGTERM: no new calls are admitted while live ones finish
    draining: bool = False
    # start-up warm-up finished (server/warmup.py): a call now pays no lazy set-up
    warm: bool = False
    # the calls this instance carries (MAX_LIVE_CALLS)
    live_calls: LiveCalls = field(default_factory=LiveCalls)
    # browser calls' peer connections (created with the first WebRTC offer)
    webrtc: WebRTCPeers | None = None
    # the in-process job worker, when it runs (JOBS_ENABLED)
    job_worker: JobWorker | None = None
    # request rate limits (created on first use)
    rate_limits: RateLimits | None = None
    # text chat sessions of ``POST /api/v1/workflows/{id}/chat`` (created on first use)
    chat_store: ChatStore | None = None
    # this instance's campaign dispatcher (created on first use)
    campaigns: Dispatcher | None = None
    # this process's name on the calls it heartbeats (server/coordination/fleet.py)
    instance_id: str = ""
    # wake-ups for the console's live event stream (started with the app)
    console_feed: ConsoleFeed | None = None
    # the Stripe client (server/billing/stripe_client.py; created on first use with a key)
    stripe: stripe.StripeClient | None = None
    background: set[asyncio.Task[Any]] = field(default_factory=set)
    # the plans of this deployment (built in, overridden by PLANS_FILE): settings.plan_catalog
    plans: PlanCatalog = field(init=False)

    def __post_init__(self) -> None:
        self.plans = self.settings.plan_catalog

    def spawn(self, coro: Any, *, name: str | None = None) -> asyncio.Task[Any]:
        """Run a coroutine in the background, keeping a reference until it finishes."""
        task = asyncio.create_task(coro, name=name)
        self.background.add(task)
        task.add_done_callback(self.background.discard)
        return task

    async def stop_background(self, seconds: float = STOP_BACKGROUND_SECONDS) -> set[str]:
        """Cancel the background tasks and wait for them, at most ``seconds``. A task that
        absorbs its cancellation (a pipecat runner whose worker never finishes did, at a
        test run's shutdown) is cancelled again once, then left behind and logged, so shutdown
        never hangs on it. Returns the names of the tasks left running."""
        tasks = set(self.background)
        for task in tasks:
            task.cancel()
        if not tasks:
            return set()
        _, pending = await asyncio.wait(tasks, timeout=seconds)
        for task in pending:
            task.cancel()
        if pending:
            _, pending = await asyncio.wait(pending, timeout=1.0)
        stuck = {task.get_name() for task in pending}
        if stuck:
            log.error("background_tasks_stuck_at_shutdown", tasks=sorted(stuck))
        return stuck
