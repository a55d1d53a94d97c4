"""An organization's Stripe customer and the subscription state last read from Stripe."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg

Conn = asyncpg.Pool | asyncpg.Connection

_COLUMNS = (
    "organization_id, stripe_customer_id, subscription_id, subscription_status, price_id, "
    "current_period_start, current_period_end, cancel_at_period_end, past_due_since, updated_at"
)


@dataclass(frozen=True, slots=True)
class SubscriptionState:
    """What Stripe says about the organization's subscription (None fields: none)."""

    subscription_id: str | None
    status: str | None
    price_id: str | None
    current_period_start: datetime | None
    current_period_end: datetime | None
    cancel_at_period_end: bool


async def get(conn: Conn, organization_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM billing_accounts WHERE organization_id = $1", organization_id
    )


async def organization_of_customer(conn: Conn, stripe_customer_id: str) -> UUID | None:
    """The organization a Stripe customer belongs to (webhooks name only the customer)."""
    return await conn.fetchval(
        "SELECT organization_id FROM billing_accounts WHERE stripe_customer_id = $1",
        stripe_customer_id,
    )


async def attach_customer(conn: Conn, organization_id: UUID, stripe_customer_id: str) -> str:
    """Store the organization's customer; the first one stored wins (returned)."""
    return await conn.fetchval(
        """INSERT INTO billing_accounts (organization_id, stripe_customer_id) VALUES ($1, $2)
           ON CONFLICT (organization_id) DO UPDATE SET updated_at = billing_accounts.updated_at
           RETURNING stripe_customer_id""",
        organization_id,
        stripe_customer_id,
    )


async def set_subscription(
    conn: Conn, organization_id: UUID, state: SubscriptionState
) -> asyncpg.Record | None:
    """Record the subscription as read from Stripe. ``past_due_since`` starts when the status
    first reads past_due and is cleared by any other status."""
    return await conn.fetchrow(
        f"""UPDATE billing_accounts
               SET subscription_id = $2, subscription_status = $3, price_id = $4,
                   current_period_start = $5, current_period_end = $6,
                   cancel_at_period_end = $7,
                   past_due_since = CASE WHEN $3 = 'past_due'
                                         THEN COALESCE(past_due_since, now()) END,
                   updated_at = now()
             WHERE organization_id = $1
         RETURNING {_COLUMNS}""",
        organization_id,
        state.subscription_id,
        state.status,
        state.price_id,
        state.current_period_start,
        state.current_period_end,
        state.cancel_at_period_end,
    )


async def past_due_beyond(conn: Conn, grace_days: int) -> list[asyncpg.Record]:
    """Accounts past due for longer than the grace period (every organization: the
    periodic check suspends them)."""
    return await conn.fetch(
        f"""SELECT {_COLUMNS} FROM billing_accounts
             WHERE subscription_status = 'past_due'
               AND past_due_since < now() - make_interval(days => $1)""",
        grace_days,
    )


async def with_customer(conn: Conn) -> list[asyncpg.Record]:
    """Every organization with a Stripe customer (reconciliation)."""
    return await conn.fetch(f"SELECT {_COLUMNS} FROM billing_accounts ORDER BY organization_id")
