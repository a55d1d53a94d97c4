"""Identity use cases: sign up, log in, refresh, log out, bootstrap organizations, API keys.

Routes and the CLI call these; they hold the rules, ``db`` holds the SQL.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg
import structlog

from db import api_keys as api_keys_db
from db import organizations as orgs_db
from db import refresh_tokens as refresh_db
from db import users as users_db
from server.auth.passwords import hash_password, verify_password
from server.auth.secrets import (
    API_KEY_PREFIX,
    INVITE_PREFIX,
    REFRESH_PREFIX,
    digest,
    display_prefix,
    new_secret,
)
from server.auth.tokens import TokenSigner
from server.errors import ApiError, conflict, unauthorized

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    organization_id: uuid.UUID
    user_id: uuid.UUID
    role: str


@dataclass(frozen=True)
class NewApiKey:
    record: asyncpg.Record
    secret: str


async def _issue(
    conn: asyncpg.Pool | asyncpg.Connection,
    signer: TokenSigner,
    refresh_ttl: int,
    *,
    user_id: uuid.UUID,
    organization_id: uuid.UUID,
    role: str,
    family_id: uuid.UUID | None = None,
) -> TokenPair:
    access, expires_in = signer.issue(user_id, organization_id, role)
    refresh = new_secret(REFRESH_PREFIX)
    await refresh_db.insert(
        conn,
        family_id=family_id or uuid.uuid4(),
        user_id=user_id,
        organization_id=organization_id,
        token_hash=digest(refresh),
        expires_at=datetime.now(UTC) + timedelta(seconds=refresh_ttl),
    )
    return TokenPair(access, refresh, expires_in, organization_id, user_id, role)


async def signup(
    pool: asyncpg.Pool,
    signer: TokenSigner,
    refresh_ttl: int,
    *,
    email: str,
    password: str,
    name: str | None,
    organization_name: str | None,
    invite_token: str | None = None,
) -> TokenPair:
    """Create a user and either a new organization (as owner) or join by invitation."""
    password_hash = await hash_password(password)
    async with pool.acquire() as conn, conn.transaction():
        try:
            user = await users_db.create(conn, email, password_hash, name)
        except asyncpg.UniqueViolationError:
            raise conflict("an account with this email already exists", "email") from None
        if invite_token:
            invite = await orgs_db.accept_invitation(conn, digest(invite_token), email)
            if invite is None:
                raise ApiError(
                    400,
                    "invalid_invitation",
                    "invitation is invalid, expired, used, or for another email",
                    [{"pointer": "/body/invite_token", "code": "invalid_invitation",
                      "message": "invitation is invalid, expired, used, or for another email"}],
                )
            org_id, role = invite["organization_id"], invite["role"]
        else:
            org = await orgs_db.create(conn, organization_name or f"{email.split('@')[0]}'s team")
            org_id, role = org["id"], "owner"
        await orgs_db.add_member(conn, org_id, user["id"], role)
        pair = await _issue(
            conn, signer, refresh_ttl, user_id=user["id"], organization_id=org_id, role=role
        )
    log.info("user_signed_up", user_id=str(user["id"]), organization_id=str(org_id))
    return pair


async def login(
    pool: asyncpg.Pool,
    signer: TokenSigner,
    refresh_ttl: int,
    *,
    email: str,
    password: str,
    organization_id: uuid.UUID | None,
) -> TokenPair:
    user = await users_db.by_email(pool, email)
    ok = await verify_password(user["password_hash"] if user else None, password)
    if user is None or not ok:
        log.info("login_failed")
        raise unauthorized("email or password is incorrect")
    if organization_id is None:
        membership = await orgs_db.first_membership(pool, user["id"])
        if membership is None:
            raise unauthorized("this account belongs to no organization")
        organization_id, role = membership["organization_id"], membership["role"]
    else:
        role = await orgs_db.role_of(pool, organization_id, user["id"])
        if role is None:
            raise ApiError(404, "not_found", "organization not found")
    return await _issue(
        pool, signer, refresh_ttl, user_id=user["id"], organization_id=organization_id, role=role
    )


async def refresh(
    pool: asyncpg.Pool, signer: TokenSigner, refresh_ttl: int, *, refresh_token: str
) -> TokenPair:
    """Rotate a refresh token. Presenting an already-rotated token revokes its whole family."""
    token_hash = digest(refresh_token)
    row = await refresh_db.consume(pool, token_hash)
    if row is None:
        known = await refresh_db.find(pool, token_hash)
        if known is not None and known["used_at"] is not None:
            # Committed on its own: the revocation must survive the error we answer with.
            revoked = await refresh_db.revoke_family(pool, known["family_id"])
            log.warning("refresh_token_reuse", family_id=str(known["family_id"]), revoked=revoked)
            raise ApiError(
                401,
                "refresh_token_reused",
                "refresh token was already used; all sessions of this login were revoked",
            )
        raise unauthorized("refresh token is invalid, expired or revoked")
    role = await orgs_db.role_of(pool, row["organization_id"], row["user_id"])
    if role is None:
        raise unauthorized("not a member of this organization")
    return await _issue(
        pool,
        signer,
        refresh_ttl,
        user_id=row["user_id"],
        organization_id=row["organization_id"],
        role=role,
        family_id=row["family_id"],
    )


async def logout(pool: asyncpg.Pool, *, refresh_token: str) -> None:
    """Revoke the login session (the refresh token's family). Unknown tokens are ignored."""
    known = await refresh_db.find(pool, digest(refresh_token))
    if known is not None:
        await refresh_db.revoke_family(pool, known["family_id"])


async def create_api_key(
    pool: asyncpg.Pool | asyncpg.Connection,
    organization_id: uuid.UUID,
    *,
    name: str,
    role: str,
    created_by: uuid.UUID | None,
) -> NewApiKey:
    secret = new_secret(API_KEY_PREFIX)
    record = await api_keys_db.create(
        pool,
        organization_id,
        name=name,
        prefix=display_prefix(secret),
        key_hash=digest(secret),
        role=role,
        created_by=created_by,
    )
    return NewApiKey(record, secret)


async def create_invitation(
    pool: asyncpg.Pool,
    organization_id: uuid.UUID,
    *,
    email: str,
    role: str,
    invited_by: uuid.UUID | None,
    ttl: timedelta = timedelta(days=7),
) -> tuple[asyncpg.Record, str]:
    token = new_secret(INVITE_PREFIX)
    record = await orgs_db.create_invitation(
        pool,
        organization_id,
        email=email,
        role=role,
        token_hash=digest(token),
        invited_by=invited_by,
        expires_at=datetime.now(UTC) + ttl,
    )
    return record, token


async def bootstrap_organization(
    pool: asyncpg.Pool, *, organization_name: str, email: str, password: str
) -> tuple[asyncpg.Record, NewApiKey]:
    """CLI ``create-org``: an organization, its owner user (created or existing), an API key."""
    async with pool.acquire() as conn, conn.transaction():
        org = await orgs_db.create(conn, organization_name)
        user = await users_db.by_email(conn, email)
        if user is None:
            user = await users_db.create(conn, email, await hash_password(password), None)
        await orgs_db.add_member(conn, org["id"], user["id"], "owner")
        key = await create_api_key(
            conn, org["id"], name="bootstrap", role="admin", created_by=user["id"]
        )
    return org, key
