"""A campaign's progress (counts per contact state, attempts, answer rate, minutes, cost,
ETA) and its results as CSV, streamed a page of contacts at a time.

Cost is the estimate every call gets (``server/pricing.py``, the ``PRICING`` setting) over
the usage of the campaign's calls; 0 when nothing is priced."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg

from db import campaign_contacts as contacts_db
from db import campaigns as campaigns_db
from server.campaigns.models import CONTACT_STATES
from server.pricing import Pricing, add

FINAL = frozenset(CONTACT_STATES) - {"pending", "calling"}


@dataclass(frozen=True, slots=True)
class Progress:
    contacts: int
    states: dict[str, int]
    attempts: int
    answered: int
    answer_rate: float | None
    minutes: float
    cost: float
    currency: str
    eta_seconds: float | None


async def campaign_cost(pool: asyncpg.Pool, organization_id: UUID, campaign_id: UUID,
                        pricing: Pricing) -> float:  # fmt: skip
    cost = 0.0
    for u in await campaigns_db.usage_totals(pool, organization_id, campaign_id):
        cost = add(cost, pricing.cost(u["kind"], u["provider"], u["model"] or None, float(u["quantity"])))
    return cost


async def progress(pool: asyncpg.Pool, campaign: Any, pricing: Pricing) -> Progress:
    org, campaign_id = campaign["organization_id"], campaign["id"]
    counts = await campaigns_db.contact_counts(pool, org, campaign_id)
    stats = await campaigns_db.attempt_stats(pool, org, campaign_id)
    states = {s: counts.get(s, 0) for s in CONTACT_STATES}
    ended = int(stats["ended"])
    answered = int(stats["answered"])
    done = sum(n for s, n in states.items() if s in FINAL)
    remaining = states["pending"] + states["calling"]
    eta = None
    started = campaign["started_at"]
    if campaign["state"] == "running" and started is not None and done and remaining:
        elapsed = (datetime.now(UTC) - started).total_seconds()
        eta = round(remaining * elapsed / done, 1)  # at the pace so far
    return Progress(
        contacts=sum(states.values()), states=states, attempts=int(stats["attempts"]),
        answered=answered, answer_rate=round(answered / ended, 4) if ended else None,
        minutes=round(float(stats["seconds"]) / 60, 2),
        cost=await campaign_cost(pool, org, campaign_id, pricing), currency=pricing.currency,
        eta_seconds=eta,
    )  # fmt: skip


RESULT_COLUMNS = ("row", "phone_number", "time_zone", "state", "attempts", "last_outcome",
                  "call_id", "duration_seconds", "finished_at", "variables", "extracted",
                  "cost")  # fmt: skip


def _usage_cost(usage: Any, pricing: Pricing) -> float:
    cost = 0.0
    for kind, provider, model, quantity in usage or ():
        cost = add(cost, pricing.cost(kind, provider, model or None, float(quantity)))
    return cost


async def results_csv(pool: asyncpg.Pool, organization_id: UUID, campaign_id: UUID,
                      pricing: Pricing) -> AsyncIterator[bytes]:  # fmt: skip
    """The results CSV: a header, then one line per contact (its last attempt's call; cost:
    every attempt's calls, priced like ``progress``)."""
    yield _line(RESULT_COLUMNS)
    async for rows in contacts_db.stream_results(pool, organization_id, campaign_id):
        out = io.StringIO()
        writer = csv.writer(out)
        for r in rows:
            writer.writerow([
                r["row_number"], r["phone_number"], r["time_zone"], r["state"], r["attempts"],
                r["last_outcome"] or "", r["call_id"] or "",
                "" if r["duration_seconds"] is None else round(r["duration_seconds"], 1),
                r["finished_at"].isoformat() if r["finished_at"] else "",
                json.dumps(r["variables"] or {}, sort_keys=True),
                json.dumps(r["extracted"], sort_keys=True) if r["extracted"] else "",
                f"{_usage_cost(r['usage'], pricing):.6f}",
            ])  # fmt: skip
        yield out.getvalue().encode()


def _line(values: tuple[str, ...]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerow(values)
    return out.getvalue().encode()
