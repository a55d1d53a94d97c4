"""The current organization, its members and invitations."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, EmailStr, Field
from starlette.responses import JSONResponse

from db import organizations as orgs_db
from db import users as users_db
from server.api import ApiContext, Router
from server.auth import identity
from server.auth.principal import ROLE_RANK
from server.errors import ApiError, conflict, forbidden, not_found

router = Router(tags=["organization"])
Role = Literal["owner", "admin", "member"]


class OrganizationOut(BaseModel):
    id: UUID
    name: str
    plan: str
    max_concurrent_calls: int
    created_at: datetime
    updated_at: datetime


class OrganizationPatch(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    max_concurrent_calls: int | None = Field(default=None, ge=0, le=10_000)


class MemberOut(BaseModel):
    user_id: UUID
    email: str
    name: str | None
    role: str
    created_at: datetime


class InviteIn(BaseModel):
    email: EmailStr
    role: Role = "member"


class InvitationOut(BaseModel):
    id: UUID
    email: str
    role: str
    expires_at: datetime
    created_at: datetime


class InviteResult(BaseModel):
    status: Literal["added", "invited"]
    member: MemberOut | None = None
    invitation: InvitationOut | None = None
    invite_token: str | None = Field(
        default=None, description="For new users: pass to /auth/signup. Shown once."
    )


class RoleIn(BaseModel):
    role: Role


def _org_out(row: object) -> OrganizationOut:
    return OrganizationOut(**{k: row[k] for k in OrganizationOut.model_fields})  # type: ignore[index]


def _member_out(row: object) -> MemberOut:
    return MemberOut(**{k: row[k] for k in MemberOut.model_fields})  # type: ignore[index]


@router.get("/api/v1/organization", response=OrganizationOut)
async def get_organization(ctx: ApiContext) -> OrganizationOut:
    """The organization the caller's token is for"""
    row = await orgs_db.get(ctx.db, ctx.caller.organization_id)
    if row is None:
        raise not_found("organization")
    return _org_out(row)


@router.patch("/api/v1/organization", body=OrganizationPatch, response=OrganizationOut, role="admin")
async def update_organization(ctx: ApiContext) -> OrganizationOut:
    """Rename the organization or change its concurrent-call limit"""
    row = await orgs_db.update(
        ctx.db,
        ctx.caller.organization_id,
        name=ctx.body.name,
        max_concurrent_calls=ctx.body.max_concurrent_calls,
    )
    if row is None:
        raise not_found("organization")
    return _org_out(row)


@router.get("/api/v1/organization/members", response=list[MemberOut])
async def list_members(ctx: ApiContext) -> list[MemberOut]:
    """Members of the organization with their roles"""
    return [_member_out(r) for r in await orgs_db.list_members(ctx.db, ctx.caller.organization_id)]


@router.post(
    "/api/v1/organization/members", body=InviteIn, response=InviteResult, status=201, role="admin"
)
async def invite_member(ctx: ApiContext) -> InviteResult | JSONResponse:
    """Add an existing user (201), or create an invitation for a new one (202)

    Only owners may grant the owner role.
    """
    org_id = ctx.caller.organization_id
    if ctx.body.role == "owner" and ctx.caller.role != "owner":
        raise forbidden("only owners can grant the owner role")
    user = await users_db.by_email(ctx.db, ctx.body.email)
    if user is not None:
        if await orgs_db.role_of(ctx.db, org_id, user["id"]) is not None:
            raise conflict("already a member", "email")
        await orgs_db.add_member(ctx.db, org_id, user["id"], ctx.body.role)
        member = next(m for m in await orgs_db.list_members(ctx.db, org_id)
                      if m["user_id"] == user["id"])
        return InviteResult(status="added", member=_member_out(member))
    record, token = await identity.create_invitation(
        ctx.db, org_id, email=ctx.body.email, role=ctx.body.role, invited_by=ctx.caller.user_id
    )
    result = InviteResult(
        status="invited",
        invitation=InvitationOut(**{k: record[k] for k in InvitationOut.model_fields}),
        invite_token=token,
    )
    return JSONResponse(result.model_dump(mode="json"), status_code=202)


@router.get("/api/v1/organization/invitations", response=list[InvitationOut], role="admin")
async def list_invitations(ctx: ApiContext) -> list[InvitationOut]:
    """Pending invitations"""
    rows = await orgs_db.list_invitations(ctx.db, ctx.caller.organization_id)
    return [InvitationOut(**{k: r[k] for k in InvitationOut.model_fields}) for r in rows]


async def _guard_last_owner(ctx: ApiContext, user_id: UUID) -> None:
    org_id = ctx.caller.organization_id
    if await orgs_db.role_of(ctx.db, org_id, user_id) == "owner" and (
        await orgs_db.count_owners(ctx.db, org_id) <= 1
    ):
        raise ApiError(409, "last_owner", "an organization must keep at least one owner")


@router.patch(
    "/api/v1/organization/members/{user_id:uuid}", body=RoleIn, response=MemberOut, role="owner"
)
async def change_role(ctx: ApiContext) -> MemberOut:
    """Change a member's role (owners only)"""
    org_id, user_id = ctx.caller.organization_id, ctx.path["user_id"]
    if await orgs_db.role_of(ctx.db, org_id, user_id) is None:
        raise not_found("member")
    if ctx.body.role != "owner":
        await _guard_last_owner(ctx, user_id)
    await orgs_db.set_role(ctx.db, org_id, user_id, ctx.body.role)
    member = next(m for m in await orgs_db.list_members(ctx.db, org_id) if m["user_id"] == user_id)
    return _member_out(member)


@router.delete("/api/v1/organization/members/{user_id:uuid}", status=204)
async def remove_member(ctx: ApiContext) -> None:
    """Remove a member (admins; owners to remove an owner; anyone may leave)"""
    org_id, user_id = ctx.caller.organization_id, ctx.path["user_id"]
    target_role = await orgs_db.role_of(ctx.db, org_id, user_id)
    if target_role is None:
        raise not_found("member")
    leaving = user_id == ctx.caller.user_id
    if not leaving:
        if ROLE_RANK[ctx.caller.role] < ROLE_RANK["admin"]:
            raise forbidden("this action needs the admin role")
        if target_role == "owner" and ctx.caller.role != "owner":
            raise forbidden("only owners can remove an owner")
    await _guard_last_owner(ctx, user_id)
    await orgs_db.remove_member(ctx.db, org_id, user_id)
