"""Encryption at rest for stored credentials (Fernet: AES-128-CBC + HMAC-SHA256), with key
rotation (MultiFernet).

The key setting holds one Fernet key or several, comma-separated, newest first: the first
encrypts, every one decrypts. Rotation: prepend a new key, restart, run
``switchboard rotate-keys`` (``rotate_stored_secrets`` re-encrypts every stored secret with
the first key), then drop the old key.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import asyncpg
from cryptography.fernet import Fernet, InvalidToken, MultiFernet

# Every encrypted column: (table, column). Ciphertexts are unique (random IV), so a row is
# found by its old ciphertext and no table needs a particular key shape.
ENCRYPTED_COLUMNS: tuple[tuple[str, str], ...] = (
    ("provider_credentials", "api_key_ciphertext"),
    ("tool_secrets", "value_ciphertext"),
    ("carrier_accounts", "credentials"),
    ("webhooks", "secret_ciphertext"),
)


def parse_keys(configured: str) -> list[str]:
    keys = [k.strip() for k in configured.split(",") if k.strip()]
    if not keys:
        raise ValueError("no Fernet key given")
    return keys


class SecretBox:
    def __init__(self, key: str | bytes) -> None:
        text = key.decode() if isinstance(key, bytes) else key
        self._fernet = MultiFernet([Fernet(k) for k in parse_keys(text)])

    def encrypt(self, plaintext: str) -> bytes:
        return self._fernet.encrypt(plaintext.encode())

    def decrypt(self, ciphertext: bytes) -> str:
        try:
            return self._fernet.decrypt(bytes(ciphertext)).decode()
        except InvalidToken:
            raise ValueError("stored secret cannot be decrypted with SECRETS_KEY") from None

    def rotate(self, ciphertext: bytes) -> bytes:
        """The same secret encrypted with the first (newest) key."""
        try:
            return self._fernet.rotate(bytes(ciphertext))
        except InvalidToken:
            raise ValueError("stored secret cannot be decrypted with SECRETS_KEY") from None


async def rotate_stored_secrets(conn: asyncpg.Connection, box: SecretBox) -> dict[str, int]:
    """Re-encrypt every stored secret with the newest key, in one transaction; returns how
    many values each table had re-encrypted. Fails (and changes nothing) if any value cannot
    be decrypted with the configured keys."""
    counts: dict[str, int] = {}
    async with conn.transaction():
        for table, column in ENCRYPTED_COLUMNS:
            exists = await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", table)
            if not exists:
                continue
            rows = await conn.fetch(f"SELECT {column} AS value FROM {table} FOR UPDATE")  # noqa: S608 - fixed names
            for row in rows:
                await conn.execute(
                    f"UPDATE {table} SET {column} = $2 WHERE {column} = $1",  # noqa: S608
                    row["value"],
                    box.rotate(row["value"]),
                )
            counts[table] = len(rows)
    return counts


def load_or_create_key(configured: str | None, data_dir: Path) -> str:
    """``SECRETS_KEY`` / ``SECRET_KEYS`` when set, else a key generated once into the data
    directory."""
    if configured:
        for key in parse_keys(configured):
            Fernet(key)  # validates the format
        return configured
    return read_or_create_secret(data_dir / "secrets.key", lambda: Fernet.generate_key().decode())


def read_or_create_secret(path: Path, make: Callable[[], str]) -> str:
    """Read a secret file, creating it (mode 0600) once; safe against concurrent starters."""
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = make()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as fh:
        fh.write(value)
    return value
