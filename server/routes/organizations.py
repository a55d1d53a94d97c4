"""The current organization, its members, invitations and their acceptance."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, EmailStr, Field

from db import organizations as orgs_db
from server import audit
from server.api import ApiContext, Router
from server.audit import AuditAction
from server.auth import identity, memberships
from server.billing.catalog import PlanCatalog
from server.coordination.rate_limit import Rule, limit_ip, limit_key
from server.errors import ApiError, conflict, detail, forbidden, not_found

router = Router(tags=["organization"])
Role = Literal["owner", "admin", "member"]


class OrganizationOut(BaseModel):
    id: UUID
    name: str
    plan: str
    max_concurrent_calls: int
    plan_max_concurrent_calls: int = Field(
        description="The plan's ceiling: max_concurrent_calls can be lowered, never raised past it"
    )
    created_at: datetime
    updated_at: datetime


class OrganizationPatch(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    max_concurrent_calls: int | None = Field(
        default=None, ge=0, le=10_000, description="At most the plan's ceiling"
    )


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
    status: Literal["invited"] = "invited"
    invitation: InvitationOut
    invite_token: str = Field(
        description="Give it to the invited person: they accept with POST "
        "/api/v1/invitations/accept when signed in, or pass it to /auth/signup. Shown once."
    )


class AcceptIn(BaseModel):
    invite_token: str = Field(min_length=1, max_length=200)


class AcceptedOut(BaseModel):
    organization_id: UUID
    role: str


class RoleIn(BaseModel):
    role: Role


def _org_out(row: object, plans: PlanCatalog) -> OrganizationOut:
    values = {k: row[k] for k in OrganizationOut.model_fields if k != "plan_max_concurrent_calls"}  # type: ignore[index]
    ceiling = plans.get(values["plan"]).max_concurrent_calls
    return OrganizationOut(**values, plan_max_concurrent_calls=ceiling)


def _member_out(row: object) -> MemberOut:
    return MemberOut(**{k: row[k] for k in MemberOut.model_fields})  # type: ignore[index]


@router.get("/api/v1/organization", response=OrganizationOut)
async def get_organization(ctx: ApiContext) -> OrganizationOut:
    """The organization the caller's token is for"""
    row = await orgs_db.get(ctx.db, ctx.caller.organization_id)
    if row is None:
        raise not_found("organization")
    return _org_out(row, ctx.services.plans)


@router.patch("/api/v1/organization", body=OrganizationPatch, response=OrganizationOut)
async def update_organization(ctx: ApiContext) -> OrganizationOut:
    """Rename the organization or lower its concurrent-call limit (within the plan's ceiling)"""
    org_id = ctx.caller.organization_id
    limit = ctx.body.max_concurrent_calls
    if limit is not None:
        row = await orgs_db.get(ctx.db, org_id)
        if row is None:
            raise not_found("organization")
        ceiling = ctx.services.plans.get(row["plan"]).max_concurrent_calls
        if limit > ceiling:
            message = f"the {row['plan']} plan allows at most {ceiling} concurrent calls"
            raise ApiError(422, "validation_error", message,
                           [detail("body", "max_concurrent_calls", code="above_plan", message=message)])
    row = await orgs_db.update(ctx.db, org_id, name=ctx.body.name, max_concurrent_calls=limit)
    if row is None:
        raise not_found("organization")
    await audit.record(ctx, AuditAction.ORGANIZATION_UPDATED, target_type="organization",
                       target_id=org_id, details=ctx.body.model_dump(exclude_none=True))
    return _org_out(row, ctx.services.plans)


@router.get("/api/v1/organization/members", response=list[MemberOut])
async def list_members(ctx: ApiContext) -> list[MemberOut]:
    """Members of the organization with their roles"""
    return [_member_out(r) for r in await orgs_db.list_members(ctx.db, ctx.caller.organization_id)]


@router.post("/api/v1/organization/members", body=InviteIn, response=InviteResult, status=202,
             errors=[409, 429])
async def invite_member(ctx: ApiContext) -> InviteResult:
    """Invite someone by email (202 with an invitation token, whether or not the email
    already has an account: they join only by accepting it)

    Only owners may grant the owner role. 409 when the email is already a member.
    """
    org_id = ctx.caller.organization_id
    await limit_ip(ctx, Rule.INVITE_IP)
    await limit_key(ctx, Rule.INVITE_ACCOUNT, str(org_id))
    if ctx.body.role == "owner" and ctx.caller.role != "owner":
        raise forbidden("only owners can grant the owner role")
    members = await orgs_db.list_members(ctx.db, org_id)
    if any(m["email"].lower() == ctx.body.email.lower() for m in members):
        raise conflict("already a member", "email")
    record, token = await identity.create_invitation(
        ctx.db, org_id, email=ctx.body.email, role=ctx.body.role, invited_by=ctx.caller.user_id
    )
    await audit.record(ctx, AuditAction.MEMBER_INVITED, target_type="invitation",
                       target_id=record["id"],
                       details={"email": ctx.body.email, "role": ctx.body.role})
    return InviteResult(
        invitation=InvitationOut(**{k: record[k] for k in InvitationOut.model_fields}),
        invite_token=token,
    )


@router.get("/api/v1/organization/invitations", response=list[InvitationOut])
async def list_invitations(ctx: ApiContext) -> list[InvitationOut]:
    """Pending invitations"""
    rows = await orgs_db.list_invitations(ctx.db, ctx.caller.organization_id)
    return [InvitationOut(**{k: r[k] for k in InvitationOut.model_fields}) for r in rows]


@router.post("/api/v1/invitations/accept", body=AcceptIn, response=AcceptedOut, auth="user",
             errors=[400, 429])
async def accept_invitation(ctx: ApiContext) -> AcceptedOut:
    """Accept an invitation made for your email (sign in to the organization afterwards)"""
    assert ctx.caller.user_id is not None
    await limit_ip(ctx, Rule.INVITE_IP)
    org_id, role = await identity.accept_invitation(
        ctx.db, user_id=ctx.caller.user_id, invite_token=ctx.body.invite_token
    )
    await audit.record(ctx, AuditAction.MEMBER_JOINED, target_type="user",
                       target_id=ctx.caller.user_id, details={"role": role},
                       organization_id=org_id)
    return AcceptedOut(organization_id=org_id, role=role)


@router.patch("/api/v1/organization/members/{user_id:uuid}", body=RoleIn, response=MemberOut,
               errors=[409])
async def change_role(ctx: ApiContext) -> MemberOut:
    """Change a member's role (owners only); demoting to member revokes the admin API keys
    they made"""
    org_id, user_id = ctx.caller.organization_id, ctx.path["user_id"]
    change = await memberships.change_role(ctx.db, org_id, user_id, ctx.body.role)
    await audit.record(ctx, AuditAction.MEMBER_ROLE_CHANGED, target_type="user",
                       target_id=user_id, details={"from": change.previous_role,
                                                   "to": ctx.body.role,
                                                   "revoked_keys": change.revoked_keys})
    member = next(m for m in await orgs_db.list_members(ctx.db, org_id) if m["user_id"] == user_id)
    return _member_out(member)


@router.delete("/api/v1/organization/members/{user_id:uuid}", status=204, errors=[409])
async def remove_member(ctx: ApiContext) -> None:
    """Remove a member (admins; owners to remove an owner; anyone may leave); the API keys
    they made are revoked"""
    org_id, user_id = ctx.caller.organization_id, ctx.path["user_id"]
    change = await memberships.remove_member(
        ctx.db, org_id, user_id, caller_role=ctx.caller.role,
        leaving=user_id == ctx.caller.user_id,
    )  # fmt: skip
    await audit.record(ctx, AuditAction.MEMBER_REMOVED, target_type="user", target_id=user_id,
                       details={"role": change.previous_role,
                                "revoked_keys": change.revoked_keys})
