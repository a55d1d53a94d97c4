"""The Stripe client of this process, and what a route says when billing is off.

Billing with Stripe is on when ``STRIPE_API_KEY`` is set. The client is the real ``stripe``
SDK (``StripeClient``) on its async httpx transport, created on first use and kept on
``Services.stripe``; ``STRIPE_API_BASE`` points it somewhere else (tests: a fake on
127.0.0.1; operators: a proxy). The SDK's own network retries are off: every Stripe call
either answers a request (the caller sees a 502) or runs in a job, whose queue retries with
backoff and keeps the error visible.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import stripe

from server.errors import ApiError

if TYPE_CHECKING:
    from server.services import Services
    from server.settings import Settings

BILLING_DISABLED = "billing_disabled"
TIMEOUT_SECONDS = 20.0


class BillingDisabled(Exception):
    """Stripe is not configured (no ``STRIPE_API_KEY``)."""


def billing_enabled(settings: Settings) -> bool:
    return settings.stripe_api_key is not None


def disabled_error() -> ApiError:
    """409 ``billing_disabled``: the deployment has no Stripe account configured."""
    return ApiError(409, BILLING_DISABLED,
                    "billing is disabled on this server (STRIPE_API_KEY is not set)")  # fmt: skip


def stripe_unavailable(exc: Exception) -> ApiError:
    """502 ``stripe_unavailable``: Stripe refused or could not be reached (details in logs)."""
    return ApiError(502, "stripe_unavailable",
                    f"the payment provider did not answer ({type(exc).__name__})")  # fmt: skip


def build_client(settings: Settings) -> stripe.StripeClient:
    if settings.stripe_api_key is None:
        raise BillingDisabled("STRIPE_API_KEY is not set")
    base = settings.stripe_api_base.rstrip("/") if settings.stripe_api_base else None
    return stripe.StripeClient(
        settings.stripe_api_key.get_secret_value(),
        base_addresses={"api": base} if base else {},
        http_client=stripe.HTTPXClient(timeout=TIMEOUT_SECONDS),
        max_network_retries=0,
    )


def client(services: Services) -> stripe.StripeClient:
    """The process's Stripe client; ``BillingDisabled`` without ``STRIPE_API_KEY``."""
    if services.stripe is None:
        services.stripe = build_client(services.settings)
    return services.stripe


def require(services: Services) -> stripe.StripeClient:
    """For routes: the client, or the 409 ``billing_disabled`` error."""
    try:
        return client(services)
    except BillingDisabled:
        raise disabled_error() from None
