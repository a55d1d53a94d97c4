"""Time: the dispatcher's injectable clock, and when a contact may be called (the
campaign's start/end and its weekday windows, in the contact's or the campaign's zone)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from server.campaigns.models import WEEKDAYS, CampaignSchedule, Window


class Clock(Protocol):
    """What the dispatcher asks the time of (tests pass a clock they move)."""

    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock that only moves when told (tests)."""

    def __init__(self, start: datetime) -> None:
        self.current = start

    def now(self) -> datetime:
        return self.current

    def advance(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)

    def set(self, moment: datetime) -> None:
        self.current = moment


def next_open(schedule: CampaignSchedule, tz: ZoneInfo, now: datetime) -> datetime | None:
    """The first moment at or after ``now`` a call may start: inside the campaign's span and
    one of the weekday windows (local to ``tz``); None when there is none before the end."""
    start = max(now, schedule.starts_at) if schedule.starts_at else now
    if schedule.ends_at is not None and start >= schedule.ends_at:
        return None
    if schedule.windows is None:
        return start
    local = start.astimezone(tz)
    for offset in range(8):
        day = local.date() + timedelta(days=offset)
        for window in sorted(schedule.windows.get(WEEKDAYS[day.weekday()], []), key=_opening):
            opens = datetime.combine(day, window.start, tzinfo=tz)
            end_day = day + timedelta(days=1) if window.end == time(0) else day
            closes = datetime.combine(end_day, window.end, tzinfo=tz)
            if closes <= start:
                continue
            moment = max(opens, start).astimezone(UTC)
            if schedule.ends_at is not None and moment >= schedule.ends_at:
                return None
            return moment
    return None


def is_open(schedule: CampaignSchedule, tz: ZoneInfo, now: datetime) -> bool:
    found = next_open(schedule, tz, now)
    return found is not None and found <= now


def _opening(window: Window) -> time:
    return window.start
