"""Phone number normalization shared by every carrier and the routes (E.164)."""

from __future__ import annotations

import re

_E164 = re.compile(r"^\+[1-9]\d{6,14}$")


def normalize_e164(value: str) -> str:
    """Return ``value`` as E.164 (``+`` and 7-15 digits) or raise ``ValueError``.

    Spaces, dashes, dots and parentheses are dropped; a leading ``00`` becomes ``+``.
    """
    cleaned = re.sub(r"[\s\-().]", "", value or "")
    if cleaned.startswith("00"):
        cleaned = "+" + cleaned[2:]
    if not _E164.match(cleaned):
        raise ValueError(f"not an E.164 phone number: {value!r}")
    return cleaned


def is_e164(value: str) -> bool:
    return bool(_E164.match(value or ""))
