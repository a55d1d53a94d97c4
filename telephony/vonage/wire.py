"""Vonage's wire formats as typed models: answer/event webhooks (JSON bodies, or query
strings for GET answer webhooks) and the websocket ``websocket:connected`` message (16-bit
linear PCM; Vonage documents 8 and 16 kHz, our NCCO asks for 16 kHz)."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BeforeValidator, ConfigDict, Field, TypeAdapter, field_validator

from telephony.fields import CarrierId, CarrierModel, Digits, Party, Word

SAMPLE_RATES = frozenset({8000, 16000})
_CONTENT_TYPE = re.compile(r"audio/l16;rate=([0-9]{4,5})")


def _text(value: Any) -> Any:
    """Vonage writes durations as strings in JSON, sometimes as numbers."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


class Webhook(CarrierModel):
    uuid: CarrierId | None = None
    to: Party = ""
    from_: Party = Field(default="", alias="from")
    status: Word = ""
    duration: Annotated[Digits, BeforeValidator(_text)] = ""


class Connected(CarrierModel):
    """``websocket:connected``: the content type plus the NCCO endpoint's ``headers`` as
    top-level fields (our stream token is one of them)."""

    model_config = ConfigDict(extra="allow", frozen=True)
    event: Annotated[str, Field(pattern=r"^websocket:connected$")]
    content_type: str = Field(alias="content-type")
    call_uuid: CarrierId | None = None

    @field_validator("content_type")
    @classmethod
    def _format(cls, value: str) -> str:
        match = _CONTENT_TYPE.fullmatch(value.strip().lower())
        if match is None or int(match.group(1)) not in SAMPLE_RATES:
            raise ValueError(f"must be audio/l16;rate= one of {sorted(SAMPLE_RATES)}")
        return value

    @property
    def sample_rate(self) -> int:
        match = _CONTENT_TYPE.fullmatch(self.content_type.strip().lower())
        assert match is not None  # checked by the validator
        return int(match.group(1))

    def headers(self, limit: int = 32) -> dict[str, str]:
        """The string (or integer) top-level fields the NCCO endpoint's headers became."""
        extra = self.model_extra or {}
        values = {k: str(v) for k, v in extra.items()
                  if isinstance(v, str | int) and not isinstance(v, bool) and len(k) <= 64}  # fmt: skip
        if len(values) > limit or any(len(v) > 1024 for v in values.values()):
            raise ValueError("too many or too long headers")
        return values


HANDSHAKE = TypeAdapter(Connected)
