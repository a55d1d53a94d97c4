"""Opaque keyset-pagination cursors: ``(created_at, id)`` of the last row of a page."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Any
from uuid import UUID

from server.errors import bad_request


def encode_cursor(row: Any) -> str:
    raw = f"{row['created_at'].isoformat()}|{row['id']}"
    return base64.urlsafe_b64encode(raw.encode()).decode()


def decode_cursor(cursor: str) -> tuple[datetime, UUID]:
    """The position a cursor names; a malformed one is a 400 naming the ``cursor`` field."""
    try:
        created, ident = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        return datetime.fromisoformat(created), UUID(ident)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise bad_request("invalid cursor", "cursor") from None
