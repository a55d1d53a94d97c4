"""Sign up, log in, refresh, log out, and who am I."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, EmailStr, Field

from db import organizations as orgs_db
from db import users as users_db
from server.api import ApiContext, Router
from server.auth import identity
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


class TokenOut(BaseModel):
    access_token: str
    refresh_token: str
    token_type: str = "Bearer"  # noqa: S105 - the OAuth token type, not a secret
    expires_in: int
    organization_id: UUID
    user_id: UUID
    role: str

    @classmethod
    def of(cls, pair: identity.TokenPair) -> TokenOut:
        return cls(
            access_token=pair.access_token,
            refresh_token=pair.refresh_token,
            expires_in=pair.expires_in,
            organization_id=pair.organization_id,
            user_id=pair.user_id,
            role=pair.role,
        )


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


@router.post("/api/v1/auth/signup", body=SignupIn, response=TokenOut, status=201, auth=None)
async def signup(ctx: ApiContext) -> TokenOut:
    """Create an account and its organization (or join one with an invitation token)"""
    s = ctx.services.settings
    pair = await identity.signup(
        ctx.db,
        ctx.services.signer,
        s.refresh_token_ttl_seconds,
        email=ctx.body.email,
        password=ctx.body.password,
        name=ctx.body.name,
        organization_name=ctx.body.organization_name,
        invite_token=ctx.body.invite_token,
    )
    return TokenOut.of(pair)


@router.post("/api/v1/auth/login", body=LoginIn, response=TokenOut, auth=None)
async def login(ctx: ApiContext) -> TokenOut:
    """Exchange email and password for an access token and a refresh token"""
    pair = await identity.login(
        ctx.db,
        ctx.services.signer,
        ctx.services.settings.refresh_token_ttl_seconds,
        email=ctx.body.email,
        password=ctx.body.password,
        organization_id=ctx.body.organization_id,
    )
    return TokenOut.of(pair)


@router.post("/api/v1/auth/refresh", body=RefreshIn, response=TokenOut, auth=None)
async def refresh(ctx: ApiContext) -> TokenOut:
    """Rotate a refresh token (single use; reusing one revokes the whole login)"""
    pair = await identity.refresh(
        ctx.db,
        ctx.services.signer,
        ctx.services.settings.refresh_token_ttl_seconds,
        refresh_token=ctx.body.refresh_token,
    )
    return TokenOut.of(pair)


@router.post("/api/v1/auth/logout", body=RefreshIn, status=204, auth=None)
async def logout(ctx: ApiContext) -> None:
    """Revoke the login behind a refresh token"""
    await identity.logout(ctx.db, refresh_token=ctx.body.refresh_token)


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
