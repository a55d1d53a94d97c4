"""Billing periods: calendar months in UTC by default, a stored period rolled forward by
whole months (day clamped) once it ends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from server.billing.period import BillingPeriod, add_months, calendar_month, current_period


def at(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def test_calendar_month_in_utc():
    assert calendar_month(at(2026, 11, 30, 23, 59)) == BillingPeriod(at(2026, 11, 1), at(2026, 12, 1))
    assert calendar_month(at(2026, 12, 31, 12)) == BillingPeriod(at(2026, 12, 1), at(2027, 1, 1))
    # 00:30 on Dec 1 in UTC+2 is still November in UTC
    east = datetime(2026, 12, 1, 0, 30, tzinfo=timezone(timedelta(hours=2)))
    assert calendar_month(east).start == at(2026, 11, 1)
    assert current_period(None, None, at(2026, 2, 14)) == BillingPeriod(at(2026, 2, 1), at(2026, 3, 1))


def test_add_months_clamps_the_day():
    assert add_months(at(2026, 1, 31), 1) == at(2026, 2, 28)
    assert add_months(at(2026, 1, 31), 2) == at(2026, 3, 31)
    assert add_months(at(2026, 11, 15), 3) == at(2027, 2, 15)


def test_stored_period_applies_then_rolls_by_months():
    start, end = at(2026, 1, 31, 8), at(2026, 2, 28, 8)
    assert current_period(start, end, at(2026, 2, 10)) == BillingPeriod(start, end)
    # not renewed: the next periods follow from the same anchor (the 31st, clamped)
    assert current_period(start, end, at(2026, 3, 5)) == BillingPeriod(end, at(2026, 3, 31, 8))
    assert current_period(start, end, at(2026, 4, 1)) == BillingPeriod(at(2026, 3, 31, 8), at(2026, 4, 30, 8))
    # a period that has not begun yet: calendar month meanwhile
    assert current_period(start, end, at(2026, 1, 2)) == calendar_month(at(2026, 1, 2))


def test_short_periods_repeat_as_they_are():
    start, end = at(2026, 1, 1), at(2026, 1, 8)  # weekly
    assert current_period(start, end, at(2026, 1, 20)) == BillingPeriod(at(2026, 1, 15), at(2026, 1, 22))


def test_elapsed_fraction():
    period = BillingPeriod(at(2026, 4, 1), at(2026, 5, 1))
    assert period.elapsed_fraction(at(2026, 4, 16)) == 0.5
    assert period.elapsed_fraction(at(2026, 3, 1)) == 0.0
    assert period.elapsed_fraction(at(2026, 6, 1)) == 1.0
