"""``switchboard billing reconcile --period YYYY-MM``: local minutes vs Stripe's meter.

Prints one line per organization (local minutes, what the meter's event summaries report
for its customer, usage records not yet sent) and exits 1 when any differs, 2 on a usage or
configuration error (no STRIPE_API_KEY, no such meter, a malformed period).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any


def cmd_reconcile(args: argparse.Namespace) -> int:
    from db.pool import create_pool
    from server.billing import stripe_client
    from server.billing.stripe_meter import ReconcileError, month_bounds, reconcile
    from server.cli import _settings, _with_database

    settings = _settings(args)
    try:
        month_bounds(args.period)
        client = stripe_client.build_client(settings)
    except (ReconcileError, stripe_client.BillingDisabled) as exc:
        print(f"switchboard: {exc}", file=sys.stderr)
        return 2

    async def work(url: str) -> Any:
        pool = await create_pool(url, min_size=1, max_size=2)
        try:
            return await reconcile(pool, client, event_name=settings.stripe_meter_event_name,
                                   period=args.period)  # fmt: skip
        finally:
            await pool.close()

    try:
        rows = asyncio.run(_with_database(settings, work))
    except ReconcileError as exc:
        print(f"switchboard: {exc}", file=sys.stderr)
        return 2
    differing = [r for r in rows if r.difference != 0]
    print(f"period {args.period}, meter event {settings.stripe_meter_event_name!r}: "
          f"{len(rows)} organizations, {len(differing)} with differences")  # fmt: skip
    for r in rows:
        mark = "DIFF" if r.difference != 0 else "ok"
        print(f"{mark:4} {r.organization_id} customer={r.customer or '-'} "
              f"local={r.local_minutes} stripe={r.stripe_minutes:g} "
              f"difference={r.difference:g} records={r.records} unsent={r.unsent}")  # fmt: skip
    return 1 if differing else 0


def add_parser(sub: Any) -> None:
    billing = sub.add_parser("billing", help="Stripe billing tools")
    commands = billing.add_subparsers(dest="billing_command", required=True)
    rec = commands.add_parser(
        "reconcile",
        help="compare local billable minutes with Stripe's meter for a month; exit 1 on a difference",
    )
    rec.add_argument("--period", required=True, help="the month, YYYY-MM (UTC)")
    rec.set_defaults(func=cmd_reconcile)
