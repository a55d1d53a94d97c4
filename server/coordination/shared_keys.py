"""Instances on one database share the JWT signing key and the credentials encryption key.

A key generated into one instance's data directory would make a token from A invalid on B
and leave B unable to decrypt what A stored. So the first instance records each key's
fingerprint in the database (``fleet_keys``), and an instance whose key differs refuses to
start, saying what to set. Fingerprints are one-way (SHA-256 of a random key): they reveal
nothing of the keys.

Encryption-key rotation (``SECRET_KEYS=new,old``): an instance that still holds the
recorded key among its older keys starts (rotation in progress); ``switchboard rotate-keys``
records the new key once every secret is re-encrypted, after which instances without it
are refused.
"""

from __future__ import annotations

import hashlib

import asyncpg
import structlog
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from db import fleet_keys
from db.crypto import parse_keys

log = structlog.get_logger(__name__)


class KeysDiffer(Exception):
    """This instance's keys are not the ones the database's other instances use."""


def jwt_fingerprint(private_key: Ed25519PrivateKey) -> str:
    raw = private_key.public_key().public_bytes(serialization.Encoding.Raw,
                                                serialization.PublicFormat.Raw)  # fmt: skip
    return hashlib.sha256(b"switchboard-jwt:" + raw).hexdigest()[:32]


def secret_fingerprint(key: str) -> str:
    return hashlib.sha256(b"switchboard-secrets:" + key.strip().encode()).hexdigest()[:32]


async def check_shared_keys(pool: asyncpg.Pool, jwt_key: Ed25519PrivateKey, secrets: str) -> None:
    """Record this instance's key fingerprints, or raise ``KeysDiffer`` when the database
    recorded others (the message names what to set)."""
    mine = jwt_fingerprint(jwt_key)
    recorded = await fleet_keys.record_or_get(pool, "jwt", mine)
    if recorded != mine:
        raise KeysDiffer(
            f"JWT_PRIVATE_KEY differs from the key the other instances on this database sign "
            f"with (fingerprint {mine[:12]}, recorded {recorded[:12]}): tokens from one would "
            "be rejected by the other. Set JWT_PRIVATE_KEY to the same Ed25519 PEM on every "
            "instance (an instance started without it generated one into DATA_DIR/"
            "jwt_ed25519.pem: use that one)."
        )
    keys = [secret_fingerprint(k) for k in parse_keys(secrets)]
    recorded = await fleet_keys.record_or_get(pool, "secrets", keys[0])
    if recorded == keys[0]:
        return
    if recorded in keys[1:]:
        log.warning("secrets_key_rotation_pending",
                    detail="run `switchboard rotate-keys` once every instance has the new key")  # fmt: skip
        return
    raise KeysDiffer(
        f"SECRET_KEYS / SECRETS_KEY differs from the key the other instances on this database "
        f"encrypt credentials with (fingerprint {keys[0][:12]}, recorded {recorded[:12]}): "
        "this instance could not decrypt what they stored. Set SECRET_KEYS (or SECRETS_KEY) "
        "to the same value on every instance (an instance started without it generated one "
        "into DATA_DIR/secrets.key: use that one)."
    )


async def record_rotated(pool: asyncpg.Pool | asyncpg.Connection, secrets: str) -> None:
    """Every stored secret now uses the first key of ``secrets``: record it."""
    await fleet_keys.replace(pool, "secrets", secret_fingerprint(parse_keys(secrets)[0]))
