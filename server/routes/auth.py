"""Sign up, log in, refresh, log out (here or everywhere), change password, and who am I.

Every route that spends a password hash or mints tokens is rate limited per IP and per
account (``server.coordination.rate_limit``).
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, EmailStr, Field
from starlette.responses import JSONResponse

from db import organizations as orgs_db
from db import refresh_tokens as refresh_db
from db import users as users_db
from server import audit
from server.api import ApiContext, Router
from server.auth import identity, passwords, sessions
from server.auth.secrets import digest
from server.coordination.rate_limit import Rule, limit_ip, limit_key
from server.errors import not_found

router = Router(tags=["auth"])


class SignupIn(BaseModel):
    email: EmailStr
    password: str = Field(min_length=10, max_length=256)
    name: str | None = Field(default=None, max_length=200)
    organization_name: str | None = Field(default=None, min_length=1, max_length=200)
    invite_token: str | None = Field(
        default=None, max_length=200, description="Join the inviting organization instead"
    )


class LoginIn(BaseModel):
    email: EmailStr
    password: str = Field(min_length=1, max_length=256)
    organization_id: UUID | None = Field(
        default=None, description="Organization for this token (default: the first joined)"
    )


class RefreshIn(BaseModel):
    refresh_token: str = Field(min_length=1, max_length=200)


class SwitchOrganizationIn(BaseModel):
    organization_id: UUID = Field(description="An organization the signed-in user belongs to")
    refresh_token: str | None = Field(
        default=None, min_length=1, max_length=200,
        description="The current login's refresh token, revoked once the new pair is issued",
    )  # fmt: skip


class TokenOut(BaseModel):
    access_token: str
    refresh_token: str
    token_type: str = "Bearer"  # noqa: S105 - the OAuth token type, not a secret
    expires_in: int
    organization_id: UUID
    user_id: UUID
    role: str

    @classmethod
    def of(cls, pair: sessions.TokenPair) -> TokenOut:
        return cls(
            access_token=pair.access_token,
            refresh_token=pair.refresh_token,
            expires_in=pair.expires_in,
            organization_id=pair.organization_id,
            user_id=pair.user_id,
            role=pair.role,
        )


class SignupPendingOut(BaseModel):
    status: str = "pending"
    message: str = (
        "If this email can be registered, the account is ready: sign in with it. "
        "If it already has an account, sign in or reset your password."
    )


class PasswordChangeIn(BaseModel):
    current_password: str = Field(min_length=1, max_length=256)
    new_password: str = Field(min_length=10, max_length=256)


class MembershipOut(BaseModel):
    organization_id: UUID
    organization_name: str
    role: str


class MeOut(BaseModel):
    user_id: UUID | None
    email: str | None
    name: str | None
    organization_id: UUID
    role: str
    auth: str = Field(description="'user' for access tokens, 'api_key' for API keys")
    api_key_id: UUID | None = None
    memberships: list[MembershipOut] = []
    created_at: datetime | None = None


def session_config(ctx: ApiContext) -> sessions.SessionConfig:
    s = ctx.services.settings
    passwords.configure(s.password_hash_concurrency, s.password_hash_queue)
    return sessions.SessionConfig(
        signer=ctx.services.signer,
        refresh_ttl=s.refresh_token_ttl_seconds,
        family_max_age=s.refresh_family_max_age_seconds,
        reuse_grace=s.refresh_reuse_grace_seconds,
    )


@router.post("/api/v1/auth/signup", body=SignupIn, response=TokenOut, status=201, auth=None,
             also={202: SignupPendingOut}, errors=[403, 429, 503])
async def signup(ctx: ApiContext) -> TokenOut | JSONResponse:
    """Create an account and its organization (or join one with an invitation token)

    `SIGNUP_POLICY` decides who may: `open`, `invite_only` (an `invite_token` is required)
    or `closed` (403 `signup_closed`). An email that already has an account gets 202 with a
    generic message instead of an error, so sign-up does not reveal who is registered.
    """
    await limit_ip(ctx, Rule.SIGNUP_IP)
    await limit_key(ctx, Rule.SIGNUP_ACCOUNT, ctx.body.email)
    config = session_config(ctx)
    pair = await identity.signup(
        ctx.db,
        config,
        policy=ctx.services.settings.effective_signup_policy,
        email=ctx.body.email,
        password=ctx.body.password,
        name=ctx.body.name,
        organization_name=ctx.body.organization_name,
        invite_token=ctx.body.invite_token,
        plan=ctx.services.plans.get(ctx.services.settings.default_plan),
    )
    if pair is None:
        return JSONResponse(SignupPendingOut().model_dump(), status_code=202)
    return TokenOut.of(pair)


@router.post("/api/v1/auth/login", body=LoginIn, response=TokenOut, auth=None,
             errors=[401, 404, 429, 503])
async def login(ctx: ApiContext) -> TokenOut:
    """Exchange email and password for an access token and a refresh token"""
    await limit_ip(ctx, Rule.LOGIN_IP)
    await limit_key(ctx, Rule.LOGIN_ACCOUNT, ctx.body.email)
    pair = await identity.login(
        ctx.db,
        session_config(ctx),
        email=ctx.body.email,
        password=ctx.body.password,
        organization_id=ctx.body.organization_id,
    )
    return TokenOut.of(pair)


@router.post("/api/v1/auth/refresh", body=RefreshIn, response=TokenOut, auth=None,
             errors=[401, 429])
async def refresh(ctx: ApiContext) -> TokenOut:
    """Rotate a refresh token (single use; reusing one revokes the whole login)

    Presenting a token again within `REFRESH_REUSE_GRACE_SECONDS` of its first use (two
    tabs refreshing at once) is not reuse: it gets a token too. A login ends after
    `REFRESH_FAMILY_MAX_AGE_SECONDS` however often it is refreshed.
    """
    await limit_ip(ctx, Rule.REFRESH_IP)
    known = await refresh_db.find(ctx.db, digest(ctx.body.refresh_token))
    if known is not None:
        await limit_key(ctx, Rule.REFRESH_ACCOUNT, str(known["user_id"]))
    pair = await sessions.refresh(ctx.db, session_config(ctx), refresh_token=ctx.body.refresh_token)
    return TokenOut.of(pair)


@router.post("/api/v1/auth/logout", body=RefreshIn, status=204, auth=None)
async def logout(ctx: ApiContext) -> None:
    """Revoke the login behind a refresh token"""
    await sessions.logout(ctx.db, refresh_token=ctx.body.refresh_token)


@router.post("/api/v1/auth/logout-all", status=204, auth="user")
async def logout_all(ctx: ApiContext) -> None:
    """Sign out everywhere: every refresh token of the user is revoked and every access
    token issued until now stops working"""
    assert ctx.caller.user_id is not None
    await sessions.logout_everywhere(ctx.db, ctx.caller.user_id)


@router.post("/api/v1/auth/password", body=PasswordChangeIn, response=TokenOut, auth="user",
             errors=[429, 503])
async def change_password(ctx: ApiContext) -> TokenOut:
    """Change the password: needs the current one; signs out every other session and
    returns a new login for this one"""
    user_id = ctx.caller.user_id
    assert user_id is not None
    await limit_key(ctx, Rule.LOGIN_ACCOUNT, str(user_id))
    pair = await sessions.change_password(
        ctx.db, session_config(ctx), user_id=user_id,
        organization_id=ctx.caller.organization_id,
        current_password=ctx.body.current_password, new_password=ctx.body.new_password,
    )  # fmt: skip
    await audit.record(ctx, audit.AuditAction.PASSWORD_CHANGED, target_type="user",
                       target_id=user_id)
    return TokenOut.of(pair)


@router.post("/api/v1/auth/switch-organization", body=SwitchOrganizationIn, response=TokenOut,
             auth="user", errors=[404])  # fmt: skip
async def switch_organization(ctx: ApiContext) -> TokenOut:
    """A new login in another organization of the signed-in user, without the password
    (404 for an organization the user is not a member of)"""
    user_id, target = ctx.caller.user_id, ctx.body.organization_id
    assert user_id is not None
    role = await orgs_db.role_of(ctx.db, target, user_id)
    if role is None:
        raise not_found("organization")
    pair = await sessions.issue(ctx.db, session_config(ctx), user_id=user_id,
                                organization_id=target, role=role)  # fmt: skip
    if ctx.body.refresh_token:
        await sessions.logout(ctx.db, refresh_token=ctx.body.refresh_token)
    await audit.record(ctx, audit.AuditAction.ORGANIZATION_SWITCHED, target_type="user",
                       target_id=user_id, organization_id=target,
                       details={"from_organization_id": ctx.caller.organization_id})  # fmt: skip
    return TokenOut.of(pair)


@router.get("/api/v1/auth/me", response=MeOut)
async def me(ctx: ApiContext) -> MeOut:
    """The caller: user (or API key), current organization and role"""
    p = ctx.caller
    if p.user_id is None:
        return MeOut(
            user_id=None, email=None, name=None, organization_id=p.organization_id,
            role=p.role, auth="api_key", api_key_id=p.api_key_id,
        )
    user = await users_db.by_id(ctx.db, p.user_id)
    if user is None:
        raise not_found("user")
    memberships = await orgs_db.memberships_of_user(ctx.db, p.user_id)
    return MeOut(
        user_id=user["id"],
        email=user["email"],
        name=user["name"],
        organization_id=p.organization_id,
        role=p.role,
        auth="user",
        memberships=[
            MembershipOut(
                organization_id=m["organization_id"], organization_name=m["name"], role=m["role"]
            )
            for m in memberships
        ],
        created_at=user["created_at"],
    )
