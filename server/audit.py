"""The audit log's one-call helper: ``await audit.record(ctx, AuditAction.X, ...)``.

Every security-relevant change in an organization is recorded with who did it (user or API
key), from where, and on what. ``record`` takes the route's ``ApiContext``; code without a
request (the CLI, jobs) uses ``record_system``. Recording never fails the action: a failed
insert is logged and swallowed (the change itself already happened).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from enum import StrEnum
from typing import TYPE_CHECKING, Any
from uuid import UUID

import asyncpg
import structlog

from db import audit as audit_db

if TYPE_CHECKING:
    from server.api import ApiContext

log = structlog.get_logger(__name__)


class AuditAction(StrEnum):
    API_KEY_CREATED = "api_key.created"
    API_KEY_REVOKED = "api_key.revoked"
    MEMBER_INVITED = "member.invited"
    MEMBER_JOINED = "member.joined"
    MEMBER_REMOVED = "member.removed"
    MEMBER_ROLE_CHANGED = "member.role_changed"
    ORGANIZATION_UPDATED = "organization.updated"
    PLAN_CHANGED = "organization.plan_changed"
    PROVIDER_CREDENTIAL_SET = "provider_credential.set"
    PROVIDER_CREDENTIAL_DELETED = "provider_credential.deleted"
    PROVIDER_SETTINGS_SET = "provider_settings.set"
    TOOL_SECRET_SET = "tool_secret.set"  # noqa: S105 - an action name
    TOOL_SECRET_DELETED = "tool_secret.deleted"  # noqa: S105
    CARRIER_ACCOUNT_CREATED = "carrier_account.created"
    CARRIER_ACCOUNT_UPDATED = "carrier_account.updated"
    CARRIER_ACCOUNT_DELETED = "carrier_account.deleted"
    WORKFLOW_PUBLISHED = "workflow.published"
    WORKFLOW_ROLLED_BACK = "workflow.rolled_back"
    CALL_PLACED = "call.placed"
    RECORDING_DELETED = "call.recording_deleted"
    PASSWORD_CHANGED = "user.password_changed"  # noqa: S105
    ORGANIZATION_SWITCHED = "user.organization_switched"


def _details(details: Mapping[str, Any] | None) -> dict[str, Any]:
    """JSON-safe copy (ids, times and enums become strings)."""
    return json.loads(json.dumps(dict(details or {}), default=str))


async def record(
    ctx: ApiContext,
    action: AuditAction,
    *,
    target_type: str = "",
    target_id: object = "",
    details: Mapping[str, Any] | None = None,
    organization_id: UUID | None = None,
) -> None:
    """Record ``action`` by the route's caller in the caller's organization."""
    principal = ctx.principal
    org = organization_id or (principal.organization_id if principal else None)
    if org is None:
        return
    client = ctx.request.client
    await _insert(
        ctx.db, org, action,
        actor_user_id=principal.user_id if principal else None,
        actor_api_key_id=principal.api_key_id if principal else None,
        target_type=target_type, target_id=target_id, details=details,
        ip=client.host if client else None,
    )  # fmt: skip


async def record_system(
    conn: asyncpg.Pool | asyncpg.Connection,
    organization_id: UUID,
    action: AuditAction,
    *,
    target_type: str = "",
    target_id: object = "",
    details: Mapping[str, Any] | None = None,
    actor_user_id: UUID | None = None,
) -> None:
    """Record an action taken without a request (operators' CLI, jobs)."""
    await _insert(
        conn, organization_id, action, actor_user_id=actor_user_id, actor_api_key_id=None,
        target_type=target_type, target_id=target_id, details=details, ip=None,
    )  # fmt: skip


async def _insert(
    conn: asyncpg.Pool | asyncpg.Connection,
    organization_id: UUID,
    action: AuditAction,
    *,
    actor_user_id: UUID | None,
    actor_api_key_id: UUID | None,
    target_type: str,
    target_id: object,
    details: Mapping[str, Any] | None,
    ip: str | None,
) -> None:
    try:
        await audit_db.insert(
            conn, organization_id, action=action.value, actor_user_id=actor_user_id,
            actor_api_key_id=actor_api_key_id, target_type=target_type,
            target_id=str(target_id), details=_details(details), ip=ip,
        )  # fmt: skip
    except (asyncpg.PostgresError, OSError):
        log.exception("audit_record_failed", action=action.value)
