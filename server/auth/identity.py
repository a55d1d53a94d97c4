"""Identity use cases: sign up, log in, invitations, bootstrap organizations, API keys.

Routes and the CLI call these; they hold the rules, ``db`` holds the SQL. Sessions (refresh,
sign-out, password change) live in ``server.auth.sessions``; membership changes in
``server.auth.memberships``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg
import structlog

from db import api_keys as api_keys_db
from db import organizations as orgs_db
from db import users as users_db
from server.auth.passwords import hash_password, verify_password
from server.auth.secrets import API_KEY_PREFIX, INVITE_PREFIX, digest, display_prefix, new_secret
from server.auth.sessions import SessionConfig, TokenPair, issue
from server.billing.plans import DEFAULT_PLAN, Plan
from server.errors import ApiError, unauthorized

log = structlog.get_logger(__name__)

__all__ = ["NewApiKey", "SignupPolicy", "TokenPair", "signup", "login"]

SignupPolicy = str  # "open" | "invite_only" | "closed" (Settings.effective_signup_policy)


@dataclass(frozen=True)
class NewApiKey:
    record: asyncpg.Record
    secret: str


def invalid_invitation() -> ApiError:
    return ApiError(
        400, "invalid_invitation", "invitation is invalid, expired, used, or for another email",
        [{"pointer": "/body/invite_token", "code": "invalid_invitation",
          "message": "invitation is invalid, expired, used, or for another email"}],
    )  # fmt: skip


async def signup(
    pool: asyncpg.Pool,
    config: SessionConfig,
    *,
    policy: SignupPolicy,
    email: str,
    password: str,
    name: str | None,
    organization_name: str | None,
    invite_token: str | None = None,
    plan: Plan = DEFAULT_PLAN,
) -> TokenPair | None:
    """Create a user and either a new organization (as owner) or join by invitation.

    Returns None when the email already has an account: the route answers that exactly like
    a signup it cannot complete, so signup does not tell who is registered (the hash is
    spent either way).
    """
    if policy == "closed" or (policy == "invite_only" and not invite_token):
        raise ApiError(403, "signup_closed", "sign-up needs an invitation on this server"
                       if policy == "invite_only" else "sign-up is closed on this server")
    password_hash = await hash_password(password)
    async with pool.acquire() as conn, conn.transaction():
        try:
            async with conn.transaction():  # a savepoint: a taken email leaves no trace
                user = await users_db.create(conn, email, password_hash, name)
        except asyncpg.UniqueViolationError:
            log.info("signup_email_taken")
            return None
        if invite_token:
            invite = await orgs_db.accept_invitation(conn, digest(invite_token), email)
            if invite is None:
                raise invalid_invitation()
            org_id, role = invite["organization_id"], invite["role"]
        else:
            org = await orgs_db.create(
                conn, organization_name or f"{email.split('@')[0]}'s team",
                plan=plan.name, max_concurrent_calls=plan.max_concurrent_calls,
            )  # fmt: skip
            org_id, role = org["id"], "owner"
        await orgs_db.add_member(conn, org_id, user["id"], role)
        pair = await issue(conn, config, user_id=user["id"], organization_id=org_id, role=role)
    log.info("user_signed_up", user_id=str(user["id"]), organization_id=str(org_id))
    return pair


async def login(
    pool: asyncpg.Pool,
    config: SessionConfig,
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
    return await issue(pool, config, user_id=user["id"], organization_id=organization_id,
                       role=role)


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
    """An invitation (token shown once). Whether the email has an account or not, the
    invited person joins only by accepting it (``accept_invitation`` or sign-up)."""
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


async def accept_invitation(
    pool: asyncpg.Pool, *, user_id: uuid.UUID, invite_token: str
) -> tuple[uuid.UUID, str]:
    """A signed-in user accepts an invitation made for their email: (organization, role)."""
    user = await users_db.by_id(pool, user_id)
    if user is None:
        raise unauthorized()
    async with pool.acquire() as conn, conn.transaction():
        invite = await orgs_db.accept_invitation(conn, digest(invite_token), user["email"])
        if invite is None:
            raise invalid_invitation()
        await orgs_db.add_member(conn, invite["organization_id"], user_id, invite["role"])
    return invite["organization_id"], invite["role"]


async def bootstrap_organization(
    pool: asyncpg.Pool,
    *,
    organization_name: str,
    email: str,
    password: str,
    plan: Plan = DEFAULT_PLAN,
) -> tuple[asyncpg.Record, NewApiKey]:
    """CLI ``create-org``: an organization, its owner user (created or existing), an API key."""
    async with pool.acquire() as conn, conn.transaction():
        org = await orgs_db.create(conn, organization_name, plan=plan.name,
                                   max_concurrent_calls=plan.max_concurrent_calls)
        user = await users_db.by_email(conn, email)
        if user is None:
            user = await users_db.create(conn, email, await hash_password(password), None)
        await orgs_db.add_member(conn, org["id"], user["id"], "owner")
        key = await create_api_key(
            conn, org["id"], name="bootstrap", role="admin", created_by=user["id"]
        )
    return org, key
