"""Opaque secrets (refresh tokens, API keys, invitations): generated here, stored hashed."""

from __future__ import annotations

import hashlib
import secrets

API_KEY_PREFIX = "sk_"
REFRESH_PREFIX = "rt_"
INVITE_PREFIX = "inv_"


def new_secret(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(32)


def digest(secret: str) -> bytes:
    """SHA-256 of a high-entropy secret (a slow hash buys nothing at 256 bits of entropy)."""
    return hashlib.sha256(secret.encode()).digest()


def display_prefix(secret: str) -> str:
    """What we keep in clear to help users recognise a key: ``sk_`` and 6 characters."""
    return secret[: len(API_KEY_PREFIX) + 6]
