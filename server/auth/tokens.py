"""Access tokens: EdDSA (Ed25519) JWTs signed with PyJWT; the key is loaded once per process."""

from __future__ import annotations

import base64
import hashlib
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from db.crypto import read_or_create_secret

ALGORITHM = "EdDSA"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _generate_pem() -> str:
    key = Ed25519PrivateKey.generate()
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def load_private_key(configured_pem: str | None, data_dir: Path) -> Ed25519PrivateKey:
    """``JWT_PRIVATE_KEY`` when set, else a key generated once into the data directory."""
    pem = configured_pem or read_or_create_secret(data_dir / "jwt_ed25519.pem", _generate_pem)
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("JWT_PRIVATE_KEY must be an Ed25519 private key in PEM format")
    return key


@dataclass(frozen=True)
class AccessClaims:
    user_id: uuid.UUID
    organization_id: uuid.UUID
    role: str
    expires_at: int
    session_version: int = 0  # the user's session version when issued (sign-out-everywhere)


class InvalidToken(Exception):
    """The token is malformed, tampered with, expired, or for another issuer/audience."""


class TokenSigner:
    def __init__(self, private_key: Ed25519PrivateKey, *, issuer: str, audience: str, ttl: int):
        self._private = private_key
        self._public = private_key.public_key()
        raw = self._public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        self.kid = hashlib.sha256(raw).hexdigest()[:16]
        self._public_x = _b64url(raw)
        self.issuer = issuer
        self.audience = audience
        self.ttl = ttl

    def issue(
        self, user_id: uuid.UUID, organization_id: uuid.UUID, role: str, session_version: int = 0
    ) -> tuple[str, int]:
        now = int(time.time())
        claims = {
            "sub": str(user_id),
            "org": str(organization_id),
            "role": role,
            "iss": self.issuer,
            "aud": self.audience,
            "iat": now,
            "nbf": now,
            "exp": now + self.ttl,
            "jti": uuid.uuid4().hex,
            "sv": session_version,
        }
        token = jwt.encode(claims, self._private, algorithm=ALGORITHM, headers={"kid": self.kid})
        return token, self.ttl

    def verify(self, token: str) -> AccessClaims:
        try:
            header = jwt.get_unverified_header(token)
            if header.get("kid") != self.kid:
                raise InvalidToken("unknown signing key")
            claims: dict[str, Any] = jwt.decode(
                token,
                self._public,
                algorithms=[ALGORITHM],
                audience=self.audience,
                issuer=self.issuer,
                options={"require": ["exp", "iat", "sub", "iss", "aud"]},
            )
            return AccessClaims(
                user_id=uuid.UUID(claims["sub"]),
                organization_id=uuid.UUID(claims["org"]),
                role=str(claims["role"]),
                expires_at=int(claims["exp"]),
                session_version=int(claims.get("sv", 0)),
            )
        except jwt.ExpiredSignatureError:
            raise InvalidToken("token expired") from None
        except (jwt.PyJWTError, KeyError, ValueError) as exc:
            raise InvalidToken(f"invalid token: {type(exc).__name__}") from None

    def jwks(self) -> dict[str, Any]:
        return {
            "keys": [
                {
                    "kty": "OKP",
                    "crv": "Ed25519",
                    "x": self._public_x,
                    "kid": self.kid,
                    "alg": ALGORITHM,
                    "use": "sig",
                }
            ]
        }
