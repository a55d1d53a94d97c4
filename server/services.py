"""The process-wide services every route, job and CLI command shares."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from runtime.egress import EgressPolicy
from server.coordination.replay import ReplayGuard

if TYPE_CHECKING:
    import asyncpg
    from redis.asyncio import Redis

    from db.crypto import SecretBox
    from server.auth.tokens import TokenSigner
    from server.coordination import ConcurrencyLimiter, ControlBus
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
    replay_guard: ReplayGuard = field(default_factory=ReplayGuard)  # carrier webhook replays
    egress: EgressPolicy = field(default_factory=EgressPolicy)  # server/egress.py builds it
    # Subsystem state that lives as long as the process (live calls, WebRTC peers, ...),
    # keyed by subsystem name. Subsystems own their key.
    state: dict[str, Any] = field(default_factory=dict)
    background: set[asyncio.Task[Any]] = field(default_factory=set)

    def spawn(self, coro: Any, *, name: str | None = None) -> asyncio.Task[Any]:
        """Run a coroutine in the background, keeping a reference until it finishes."""
        task = asyncio.create_task(coro, name=name)
        self.background.add(task)
        task.add_done_callback(self.background.discard)
        return task
