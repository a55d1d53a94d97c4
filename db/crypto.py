"""Encryption at rest for stored credentials (Fernet: AES-128-CBC + HMAC-SHA256)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken


class SecretBox:
    def __init__(self, key: str | bytes) -> None:
        self._fernet = Fernet(key)

    def encrypt(self, plaintext: str) -> bytes:
        return self._fernet.encrypt(plaintext.encode())

    def decrypt(self, ciphertext: bytes) -> str:
        try:
            return self._fernet.decrypt(bytes(ciphertext)).decode()
        except InvalidToken:
            raise ValueError("stored secret cannot be decrypted with SECRETS_KEY") from None


def load_or_create_key(configured: str | None, data_dir: Path) -> str:
    """``SECRETS_KEY`` when set, else a key generated once into the data directory."""
    if configured:
        Fernet(configured)  # validates the format
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
