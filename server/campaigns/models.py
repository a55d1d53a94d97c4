"""A campaign's configuration, validated strictly (the request body and the stored
``campaigns.config``), and the outcomes and contact states the dispatcher moves through."""

from __future__ import annotations

from datetime import datetime, time
from typing import Literal
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from telephony.numbers import normalize_e164

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# what an attempt ended as (from the call row: carrier status, answering machine)
Outcome = Literal["completed", "voicemail", "busy", "no-answer", "failed"]
RetryOutcome = Literal["busy", "no-answer", "failed", "voicemail"]
CampaignState = Literal["draft", "running", "paused", "completed", "canceled"]
ContactState = Literal["pending", "calling", "completed", "voicemail", "busy", "no-answer",
                       "failed", "canceled", "opted-out"]  # fmt: skip
CONTACT_STATES: tuple[str, ...] = ("pending", "calling", "completed", "voicemail", "busy",
                                   "no-answer", "failed", "canceled", "opted-out")  # fmt: skip
VARIABLE_NAME = r"^[A-Za-z_][A-Za-z0-9_]{0,63}$"


def zone(name: str) -> ZoneInfo:
    """``name`` as an IANA time zone, or ``ValueError``."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ValueError(f"unknown time zone {name!r} (an IANA name such as Europe/Paris)") from None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Window(_Strict):
    """A calling window on one weekday, in local time; ``end`` 00:00 means midnight."""

    start: time
    end: time

    @model_validator(mode="after")
    def _ordered(self) -> Window:
        if self.end != time(0) and self.end <= self.start:
            raise ValueError("end must be after start")
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("windows are local times without an offset")
        return self


class CampaignSchedule(_Strict):
    starts_at: datetime | None = Field(default=None, description="No call before (with offset)")
    ends_at: datetime | None = Field(default=None, description="No call after (with offset)")
    time_zone: str = Field(default="UTC", description="The campaign's IANA time zone")
    use_contact_time_zone: bool = Field(
        default=True, description="Windows apply in each contact's zone (else the campaign's)"
    )
    windows: dict[Weekday, list[Window]] | None = Field(
        default=None,
        description="Calling windows per weekday; omitted: any time. A weekday "
        "missing from the map has no window (no calls that day)",
    )

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        zone(value)
        return value

    @field_validator("starts_at", "ends_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("a date-time with a UTC offset (e.g. 2026-12-01T09:00:00Z)")
        return value

    @model_validator(mode="after")
    def _span(self) -> CampaignSchedule:
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


class RetryPolicy(_Strict):
    retry_on: list[RetryOutcome] = Field(
        default_factory=lambda: ["busy", "no-answer"], description="Outcomes that are tried again"
    )
    max_attempts: int = Field(default=3, ge=1, le=10, description="Attempts per contact")
    backoff_seconds: int = Field(
        default=900, ge=0, le=7 * 86_400, description="Wait before the second attempt"
    )
    backoff_multiplier: float = Field(
        default=1.0, ge=1.0, le=10.0, description="Each later wait is this much longer"
    )

    def delay_after(self, attempt: int) -> float:
        """Seconds to wait after the ``attempt``-th attempt (1-based)."""
        return self.backoff_seconds * self.backoff_multiplier ** max(attempt - 1, 0)


class VoicemailPolicy(_Strict):
    detect: bool = Field(default=True, description="Answering-machine detection on each dial")
    action: Literal["hangup", "message"] = "hangup"
    text: str | None = Field(default=None, max_length=1000, description="For action=message")

    @model_validator(mode="after")
    def _text(self) -> VoicemailPolicy:
        if self.action == "message" and not (self.text or "").strip():
            raise ValueError("action 'message' needs a text")
        return self


class CampaignIn(_Strict):
    name: str = Field(min_length=1, max_length=200)
    workflow_id: UUID = Field(description="A published workflow of the organization")
    carrier_account_id: UUID | None = Field(
        default=None, description="Limit caller ids to this carrier account's numbers"
    )
    caller_ids: list[str] | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description="The organization's numbers to call from (round robin); omitted: its "
        "first caller-id number (of the carrier account when given)",
    )
    schedule: CampaignSchedule = Field(default_factory=CampaignSchedule)
    max_concurrent_calls: int = Field(default=1, ge=1, le=500)
    calls_per_minute: int = Field(default=30, ge=1, le=6000)
    retry: RetryPolicy = Field(default_factory=RetryPolicy)
    voicemail: VoicemailPolicy = Field(default_factory=VoicemailPolicy)
    variables: dict[str, str] = Field(
        default_factory=dict, max_length=100, description="Input variables shared by every contact"
    )
    required_variables: list[str] = Field(
        default_factory=list,
        max_length=100,
        description="Variables every contact row must set (besides the workflow's inputs "
        "without a default that the shared variables leave unset)",
    )

    @field_validator("caller_ids")
    @classmethod
    def _numbers(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        numbers = [normalize_e164(v) for v in value]
        if len(set(numbers)) != len(numbers):
            raise ValueError("caller ids repeat")
        return numbers

    @field_validator("variables")
    @classmethod
    def _variables(cls, value: dict[str, str]) -> dict[str, str]:
        for name, text in value.items():
            _check_variable(name, text)
        return value

    @field_validator("required_variables")
    @classmethod
    def _required(cls, value: list[str]) -> list[str]:
        for name in value:
            _check_variable(name, "")
        return value


def _check_variable(name: str, text: str) -> None:
    import re

    if not re.match(VARIABLE_NAME, name):
        raise ValueError(f"variable name {name[:64]!r}: letters, digits, _ (max 64)")
    if len(text) > 2000:
        raise ValueError(f"variable {name!r} is over 2000 characters")


class CampaignConfig(_Strict):
    """What ``campaigns.config`` stores (the request minus the columns of their own)."""

    schedule: CampaignSchedule
    retry: RetryPolicy
    voicemail: VoicemailPolicy
    variables: dict[str, str]
    required_variables: list[str]
    # where carriers reach this server (PUBLIC_URL, else the base of the start request)
    public_base: str | None = None
