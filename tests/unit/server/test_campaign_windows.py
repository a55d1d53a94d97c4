"""Calling windows: weekday windows in a zone, daylight-saving days, midnight ends, the
campaign's start and end; the country-code time zones."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from server.campaigns.contacts import zone_of_number
from server.campaigns.models import CampaignIn, CampaignSchedule, RetryPolicy
from server.campaigns.windows import is_open, next_open

PARIS = ZoneInfo("Europe/Paris")
OFFICE = {d: [{"start": "09:00", "end": "12:00"}, {"start": "14:00", "end": "18:00"}]
          for d in ("mon", "tue", "wed", "thu", "fri")}  # fmt: skip


def schedule(**kw: object) -> CampaignSchedule:
    return CampaignSchedule.model_validate({"windows": OFFICE, **kw})


def test_next_open_inside_between_and_after_windows() -> None:
    s = schedule()
    monday_10 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)  # 10:00 in Paris
    assert next_open(s, PARIS, monday_10) == monday_10 and is_open(s, PARIS, monday_10)
    lunch = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)  # 13:00 Paris: opens at 14:00
    assert next_open(s, PARIS, lunch) == datetime(2026, 11, 30, 13, 0, tzinfo=UTC)
    assert not is_open(s, PARIS, lunch)
    friday_evening = datetime(2026, 12, 4, 18, 0, tzinfo=UTC)  # 19:00 Fri: Monday 09:00
    assert next_open(s, PARIS, friday_evening) == datetime(2026, 12, 7, 8, 0, tzinfo=UTC)


def test_windows_follow_daylight_saving() -> None:
    s = schedule()
    # 2026-03-30 is the Monday after the switch to summer time: 09:00 Paris is 07:00 UTC
    before = datetime(2026, 3, 30, 6, 30, tzinfo=UTC)
    assert next_open(s, PARIS, before) == datetime(2026, 3, 30, 7, 0, tzinfo=UTC)


def test_midnight_end_span_and_no_window_days() -> None:
    late = CampaignSchedule.model_validate({"windows": {"sat": [{"start": "20:00", "end": "00:00"}]}})
    saturday_2330 = datetime(2026, 12, 5, 23, 30, tzinfo=UTC)
    assert is_open(late, ZoneInfo("UTC"), saturday_2330)
    sunday = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)  # next window: the following Saturday
    assert next_open(late, ZoneInfo("UTC"), sunday) == datetime(2026, 12, 12, 20, 0, tzinfo=UTC)
    s = schedule(starts_at="2026-12-01T00:00:00Z", ends_at="2026-12-01T10:00:00Z")
    assert next_open(s, PARIS, datetime(2026, 11, 30, 9, 0, tzinfo=UTC)) == datetime(
        2026, 12, 1, 8, 0, tzinfo=UTC
    )  # not before the start
    assert next_open(s, PARIS, datetime(2026, 12, 1, 9, 30, tzinfo=UTC)) == datetime(
        2026, 12, 1, 9, 30, tzinfo=UTC
    )
    assert next_open(s, PARIS, datetime(2026, 12, 1, 11, 0, tzinfo=UTC)) is None  # ended
    anytime = CampaignSchedule()
    now = datetime(2026, 12, 6, 3, 0, tzinfo=UTC)
    assert next_open(anytime, PARIS, now) == now


def test_strict_configuration() -> None:
    with pytest.raises(ValidationError):
        CampaignSchedule.model_validate({"starts_at": "2026-12-01T00:00:00"})  # no offset
    with pytest.raises(ValidationError):
        CampaignSchedule.model_validate({"windows": {"mon": [{"start": "10:00", "end": "09:00"}]}})
    with pytest.raises(ValidationError):
        CampaignIn.model_validate({"name": "x", "workflow_id": "00000000-0000-0000-0000-000000000000",
                                   "variables": {"bad name": "x"}})  # fmt: skip
    assert RetryPolicy(backoff_seconds=60, backoff_multiplier=2).delay_after(3) == 240


def test_single_zone_countries() -> None:
    assert zone_of_number("+33123456789") == "Europe/Paris"
    assert zone_of_number("+442079460000") == "Europe/London"
    assert zone_of_number("+819012345678") == "Asia/Tokyo"
    assert zone_of_number("+35312345678") == "Europe/Dublin"
    assert zone_of_number("+14155550100") is None  # +1: many zones
    assert zone_of_number("+61212345678") is None  # Australia: many zones
