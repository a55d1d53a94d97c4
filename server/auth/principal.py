"""Who is calling: resolved from ``Authorization: Bearer`` (a user JWT or an ``sk_`` API key)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING
from uuid import UUID

from starlette.requests import HTTPConnection

from db import api_keys as api_keys_db
from db import users as users_db
from server.auth.secrets import API_KEY_PREFIX, digest
from server.auth.tokens import InvalidToken
from server.errors import forbidden, unauthorized

if TYPE_CHECKING:
    from server.services import Services

ROLE_RANK = {"member": 1, "admin": 2, "owner": 3}


@dataclass(frozen=True, slots=True)
class Principal:
    organization_id: UUID
    role: str
    user_id: UUID | None = None  # None when authenticated by API key
    api_key_id: UUID | None = None


def bearer_token(conn: HTTPConnection) -> str | None:
    header = conn.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


async def principal_from_token(token: str, services: Services) -> Principal:
    if token.startswith(API_KEY_PREFIX):
        row = await api_keys_db.authenticate(services.db, digest(token))
        if row is None:
            raise unauthorized("invalid or revoked API key")
        return Principal(row["organization_id"], row["role"], api_key_id=row["id"])
    try:
        claims = services.signer.verify(token)
    except InvalidToken as exc:
        raise unauthorized(str(exc)) from None
    # Membership is checked live, so removed members and changed roles apply at once, and
    # so is sign-out-everywhere (a password change signs out every other session too).
    role = await users_db.session_role(
        services.db, claims.organization_id, claims.user_id, claims.session_version
    )
    if role is None:
        raise unauthorized("not a member of this organization")
    return Principal(claims.organization_id, role, user_id=claims.user_id)


async def authenticate(conn: HTTPConnection, services: Services) -> Principal:
    token = bearer_token(conn)
    if token is None:
        raise unauthorized()
    return await principal_from_token(token, services)


def require_role(principal: Principal, minimum: str) -> None:
    if ROLE_RANK.get(principal.role, 0) < ROLE_RANK[minimum]:
        raise forbidden(f"this action needs the {minimum} role")
