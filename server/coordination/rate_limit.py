"""Request rate limits (the ``limits`` library): per IP, per account, per organization.

Each ``Rule`` names a setting (``RATE_LIMIT_<RULE>``, e.g. ``10/minute;50/hour``). Counters
live in Redis when ``REDIS_URL`` is set (namespaced ``<REDIS_PREFIX>:ratelimit``, so every
instance shares them), else in this process. Over a limit: 429 ``rate_limited`` with
``Retry-After``. A storage failure lets the request through (logged): a Redis outage must not
lock every user out.

Routes call one of: ``await limit_ip(ctx, Rule.X)``, ``await limit_key(ctx, Rule.X, key)``,
``await limit_organization(ctx, Rule.X)``.
"""

from __future__ import annotations

import hashlib
import math
import time
from enum import StrEnum
from typing import TYPE_CHECKING

import structlog
from limits import RateLimitItem, parse_many
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter

from server.errors import ApiError

if TYPE_CHECKING:
    from server.api import ApiContext
    from server.services import Services
    from server.settings import Settings

log = structlog.get_logger(__name__)
STATE_KEY = "rate_limits"  # services.state


class Rule(StrEnum):
    LOGIN_IP = "login_ip"
    LOGIN_ACCOUNT = "login_account"
    SIGNUP_IP = "signup_ip"
    SIGNUP_ACCOUNT = "signup_account"
    REFRESH_IP = "refresh_ip"
    REFRESH_ACCOUNT = "refresh_account"
    INVITE_IP = "invite_ip"
    INVITE_ACCOUNT = "invite_account"
    CHAT_ORG = "chat_org"
    WEBRTC_OFFER_ORG = "webrtc_offer_org"


def _storage(settings: Settings) -> Storage:
    if not settings.redis_url:
        return MemoryStorage()
    url = settings.redis_url
    uri = "async+redis+unix" + url[len("unix"):] if url.startswith("unix") else "async+" + url
    return RedisStorage(
        uri, implementation="redispy", key_prefix=f"{settings.redis_prefix}:ratelimit"
    )


class RateLimits:
    """The process's limiter: rules parsed once from settings, one shared storage."""

    def __init__(self, settings: Settings, storage: Storage | None = None) -> None:
        self.enabled = settings.effective_rate_limits
        self._rules: dict[Rule, list[RateLimitItem]] = {
            rule: parse_many(getattr(settings, f"rate_limit_{rule.value}")) for rule in Rule
        }
        self._limiter = MovingWindowRateLimiter(storage or _storage(settings))

    async def hit(self, rule: Rule, key: str) -> None:
        """Count one request for ``key`` under ``rule``; 429 when over any of its limits."""
        if not self.enabled:
            return
        ident = hashlib.sha256(key.encode()).hexdigest()[:32]  # no emails or IPs in keys
        try:
            for item in self._rules[rule]:
                if not await self._limiter.hit(item, rule.value, ident):
                    stats = await self._limiter.get_window_stats(item, rule.value, ident)
                    retry = max(1, math.ceil(stats.reset_time - time.time()))
                    raise ApiError(
                        429, "rate_limited", f"too many requests ({rule.value}): retry later",
                        headers={"Retry-After": str(retry)},
                    )  # fmt: skip
        except ApiError:
            raise
        except Exception:  # storage down: fail open, loudly
            log.warning("rate_limit_storage_failed", rule=rule.value, exc_info=True)


def rate_limits(services: Services) -> RateLimits:
    limiter = services.state.get(STATE_KEY)
    if limiter is None:
        limiter = services.state[STATE_KEY] = RateLimits(services.settings)
    return limiter


def client_ip(ctx: ApiContext) -> str:
    """The caller's address (uvicorn resolves X-Forwarded-For from trusted proxies only)."""
    client = ctx.request.client
    return client.host if client else "unknown"


async def limit_key(ctx: ApiContext, rule: Rule, key: str) -> None:
    await rate_limits(ctx.services).hit(rule, key.lower())


async def limit_ip(ctx: ApiContext, rule: Rule) -> None:
    await rate_limits(ctx.services).hit(rule, client_ip(ctx))


async def limit_organization(ctx: ApiContext, rule: Rule) -> None:
    """Per-organization limit for the authenticated caller (chat, WebRTC offers)."""
    await rate_limits(ctx.services).hit(rule, str(ctx.caller.organization_id))
