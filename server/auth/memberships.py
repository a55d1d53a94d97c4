"""Membership changes that must keep an owner and take API keys along.

Each runs in one transaction holding the organization's row lock, so two concurrent
demotions or removals cannot leave the organization without an owner.

API keys belong to the member who made them: removing that member revokes their keys, and
demoting them to member revokes the admin keys they made (a key never holds more than its
creator). ``db.api_keys.authenticate`` re-checks the same rule on every use.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

import asyncpg

from db import api_keys as api_keys_db
from db import organizations as orgs_db
from server.errors import ApiError, not_found


@dataclass(frozen=True)
class MembershipChange:
    previous_role: str
    revoked_keys: list[UUID]


def last_owner() -> ApiError:
    return ApiError(409, "last_owner", "an organization must keep at least one owner")


async def _current_role(conn: asyncpg.Connection, organization_id: UUID, user_id: UUID) -> str:
    await orgs_db.lock(conn, organization_id)
    role = await orgs_db.role_of(conn, organization_id, user_id)
    if role is None:
        raise not_found("member")
    return role


async def change_role(
    pool: asyncpg.Pool, organization_id: UUID, user_id: UUID, role: str
) -> MembershipChange:
    async with pool.acquire() as conn, conn.transaction():
        previous = await _current_role(conn, organization_id, user_id)
        if previous == "owner" and role != "owner" and (
            await orgs_db.count_owners(conn, organization_id) <= 1
        ):
            raise last_owner()
        await orgs_db.set_role(conn, organization_id, user_id, role)
        revoked: list[UUID] = []
        if role == "member":
            revoked = await api_keys_db.revoke_created_by(
                conn, organization_id, user_id, ("admin",)
            )
    return MembershipChange(previous, revoked)


async def remove_member(
    pool: asyncpg.Pool,
    organization_id: UUID,
    user_id: UUID,
    *,
    caller_role: str,
    leaving: bool,
) -> MembershipChange:
    async with pool.acquire() as conn, conn.transaction():
        previous = await _current_role(conn, organization_id, user_id)
        if not leaving:
            if caller_role not in ("admin", "owner"):
                raise ApiError(403, "forbidden", "this action needs the admin role")
            if previous == "owner" and caller_role != "owner":
                raise ApiError(403, "forbidden", "only owners can remove an owner")
        if previous == "owner" and await orgs_db.count_owners(conn, organization_id) <= 1:
            raise last_owner()
        await orgs_db.remove_member(conn, organization_id, user_id)
        revoked = await api_keys_db.revoke_created_by(
            conn, organization_id, user_id, ("admin", "member")
        )
    return MembershipChange(previous, revoked)
