"""Login sessions: token pairs, refresh rotation, sign-out (one login or everywhere),
password change.

A login is a refresh-token family with an absolute end (``REFRESH_FAMILY_MAX_AGE_SECONDS``)
however often it is refreshed. Refresh tokens are single use. Presenting a rotated token
again within ``REFRESH_REUSE_GRACE_SECONDS`` of its use is a legitimate double refresh (two
tabs, a retried request): it gets a fresh token in the same family. Later, it is theft: the
whole family is revoked, including the token the first use produced. Each presentation locks
the token's row, so a concurrent winner's new token is always visible to the revocation.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg
import structlog

from db import organizations as orgs_db
from db import refresh_tokens as refresh_db
from db import users as users_db
from server.auth.passwords import hash_password, verify_password
from server.auth.secrets import REFRESH_PREFIX, digest, new_secret
from server.auth.tokens import TokenSigner
from server.errors import ApiError, unauthorized

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class SessionConfig:
    signer: TokenSigner
    refresh_ttl: int
    family_max_age: int = 30 * 86_400
    reuse_grace: float = 10.0


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    organization_id: uuid.UUID
    user_id: uuid.UUID
    role: str


async def issue(
    conn: asyncpg.Pool | asyncpg.Connection,
    config: SessionConfig,
    *,
    user_id: uuid.UUID,
    organization_id: uuid.UUID,
    role: str,
    family: tuple[uuid.UUID, datetime] | None = None,
) -> TokenPair:
    """A new access token and refresh token; a new login unless ``family`` (id, end) is
    given."""
    version = await users_db.session_version(conn, user_id)
    access, expires_in = config.signer.issue(user_id, organization_id, role, version)
    refresh = new_secret(REFRESH_PREFIX)
    now = datetime.now(UTC)
    family_id, family_end = family or (
        uuid.uuid4(), now + timedelta(seconds=config.family_max_age)
    )
    await refresh_db.insert(
        conn,
        family_id=family_id,
        user_id=user_id,
        organization_id=organization_id,
        token_hash=digest(refresh),
        expires_at=now + timedelta(seconds=config.refresh_ttl),
        family_expires_at=family_end,
    )
    return TokenPair(access, refresh, expires_in, organization_id, user_id, role)


async def refresh(pool: asyncpg.Pool, config: SessionConfig, *, refresh_token: str) -> TokenPair:
    """Rotate a refresh token (see the module docstring for reuse and the grace window)."""
    token_hash = digest(refresh_token)
    reused_family: uuid.UUID | None = None
    async with pool.acquire() as conn, conn.transaction():
        row = await refresh_db.lock(conn, token_hash)
        if row is None or row["revoked_at"] is not None or row["expired"]:
            raise unauthorized("refresh token is invalid, expired or revoked")
        if row["used_at"] is not None and row["used_seconds_ago"] > config.reuse_grace:
            # Theft: revoke the login (committed with this transaction; we raise after it).
            reused_family = row["family_id"]
            revoked = await refresh_db.revoke_family(conn, reused_family)
            log.warning("refresh_token_reuse", family_id=str(reused_family), revoked=revoked)
        else:
            await refresh_db.mark_used(conn, token_hash)
            role = await orgs_db.role_of(conn, row["organization_id"], row["user_id"])
            if role is None:
                raise unauthorized("not a member of this organization")
            return await issue(
                conn, config, user_id=row["user_id"], organization_id=row["organization_id"],
                role=role, family=(row["family_id"], row["family_expires_at"]),
            )  # fmt: skip
    raise ApiError(
        401, "refresh_token_reused",
        "refresh token was already used; all sessions of this login were revoked",
        headers={"WWW-Authenticate": "Bearer"},
    )  # fmt: skip


async def logout(pool: asyncpg.Pool, *, refresh_token: str) -> None:
    """Revoke the login session (the refresh token's family). Unknown tokens are ignored."""
    known = await refresh_db.find(pool, digest(refresh_token))
    if known is not None:
        await refresh_db.revoke_family(pool, known["family_id"])


async def logout_everywhere(pool: asyncpg.Pool, user_id: uuid.UUID) -> None:
    """Every login of the user ends: refresh tokens revoked, access tokens refused."""
    async with pool.acquire() as conn, conn.transaction():
        await refresh_db.revoke_user(conn, user_id)
        await users_db.revoke_sessions(conn, user_id)


async def change_password(
    pool: asyncpg.Pool,
    config: SessionConfig,
    *,
    user_id: uuid.UUID,
    organization_id: uuid.UUID,
    current_password: str,
    new_password: str,
) -> TokenPair:
    """Check the current password, store the new one, sign out every session, and return a
    fresh login for the caller."""
    stored = await users_db.password_hash(pool, user_id)
    if not await verify_password(stored, current_password):
        raise ApiError(403, "wrong_password", "the current password is incorrect",
                       [{"pointer": "/body/current_password"}])
    new_hash = await hash_password(new_password)
    async with pool.acquire() as conn, conn.transaction():
        await users_db.set_password(conn, user_id, new_hash)
        await refresh_db.revoke_user(conn, user_id)
        await users_db.revoke_sessions(conn, user_id)
        role = await orgs_db.role_of(conn, organization_id, user_id)
        if role is None:
            raise unauthorized("not a member of this organization")
        return await issue(conn, config, user_id=user_id, organization_id=organization_id,
                           role=role)
