"""Billing periods: the calendar month (UTC) unless the organization has its own.

An organization's period columns are NULL by default: its period is the calendar month in
UTC. When set (a Stripe subscription's current period, say), that period applies, and once
it has ended without being renewed it repeats: by whole months from the same anchor day
(clamped to short months) when it is n months long, else by its length, so usage is
always counted in some period.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, datetime

_MAX_ROLLS = 1_200  # a hundred years of months


@dataclass(frozen=True, slots=True)
class BillingPeriod:
    start: datetime
    end: datetime

    def elapsed_fraction(self, now: datetime) -> float:
        total = (self.end - self.start).total_seconds()
        done = (min(max(now, self.start), self.end) - self.start).total_seconds()
        return done / total if total > 0 else 1.0


def add_months(moment: datetime, months: int) -> datetime:
    """``moment`` moved by whole months, its day clamped to the month's length."""
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def calendar_month(now: datetime) -> BillingPeriod:
    now = now.astimezone(UTC)
    start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return BillingPeriod(start, add_months(start, 1))


def current_period(start: datetime | None, end: datetime | None,
                   now: datetime | None = None) -> BillingPeriod:  # fmt: skip
    """The period ``now`` falls in, given the organization's stored period (or none)."""
    now = now or datetime.now(UTC)
    if start is None or end is None or end <= start or now < start:
        return calendar_month(now)
    if now < end:
        return BillingPeriod(start, end)
    months = (end.year - start.year) * 12 + end.month - start.month
    if months >= 1 and add_months(start, months) == end:  # monthly (or every n months)
        for k in range(1, _MAX_ROLLS):
            following = add_months(start, (k + 1) * months)
            if now < following:
                return BillingPeriod(add_months(start, k * months), following)
        return calendar_month(now)
    length = end - start  # any other length: repeat it as it is
    periods = (now - start) // length
    return BillingPeriod(start + periods * length, start + (periods + 1) * length)
