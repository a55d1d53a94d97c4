"""Speech provider credentials and provider settings of the caller's organization.

Keys are write-only: PUT stores one encrypted (``SecretBox``), reads return only a hint
(the last 4 characters). Admins write; any member may read the masked view.
``server.calls.setup.load_call_providers`` is what a call uses to build its speech
services.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, get_args

from pydantic import BaseModel, Field, field_validator

from db import provider_credentials as creds_db
from pipeline.providers import CLOUD_PROVIDERS, ProviderSettings
from pipeline.providers.config import CloudProvider
from runtime.egress import WEBSOCKET_SCHEMES, EgressRefused, UnresolvableHost
from server import audit
from server.api import ApiContext, Router
from server.audit import AuditAction
from server.billing.catalog import Feature
from server.billing.entitlements import plan_of, require_feature
from server.errors import ApiError, detail, not_found

router = Router(tags=["providers"])

_URL_SCHEMES = ("http://", "https://", "ws://", "wss://")


class ProviderCredentialIn(BaseModel):
    api_key: str = Field(min_length=1, max_length=4096, repr=False)
    base_url: str | None = Field(
        default=None,
        max_length=2048,
        description="Override the provider's endpoint (self-hosted, proxy, EU region).",
    )

    @field_validator("api_key")
    @classmethod
    def _no_surrounding_space(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("must not be blank")
        return value

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if not value.startswith(_URL_SCHEMES):
            raise ValueError("must start with http://, https://, ws:// or wss://")
        return value.rstrip("/")


class ProviderCredentialOut(BaseModel):
    provider: str
    key_hint: str = Field(description="Last characters of the key; the key is never returned")
    base_url: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: Any) -> ProviderCredentialOut:
        return cls(**{k: row[k] for k in cls.model_fields})


def _provider(ctx: ApiContext) -> str:
    provider = ctx.path["provider"]
    if provider not in CLOUD_PROVIDERS:
        raise not_found("provider")
    return provider


@router.get("/api/v1/provider-credentials", response=list[ProviderCredentialOut])
async def list_provider_credentials(ctx: ApiContext) -> list[ProviderCredentialOut]:
    """List the organization's stored provider credentials (hints only, never keys)"""
    rows = await creds_db.list_for_org(ctx.db, ctx.caller.organization_id)
    return [ProviderCredentialOut.of(r) for r in rows]


@router.get("/api/v1/provider-credentials/{provider}", response=ProviderCredentialOut)
async def get_provider_credential(ctx: ApiContext) -> ProviderCredentialOut:
    """Show one stored provider credential (hint only, never the key)"""
    row = await creds_db.get(ctx.db, ctx.caller.organization_id, _provider(ctx))
    if row is None:
        raise not_found("provider credential")
    return ProviderCredentialOut.of(row)


@router.put(
    "/api/v1/provider-credentials/{provider}",
    body=ProviderCredentialIn,
    response=ProviderCredentialOut,
    description=f"provider is one of: {', '.join(get_args(CloudProvider))}.",
)
async def put_provider_credential(ctx: ApiContext) -> ProviderCredentialOut:
    """Store or replace the organization's key for a provider (encrypted at rest)

    A custom `base_url` must reach a public address unless `ALLOW_PRIVATE_URLS=true`, so a
    tenant cannot aim the server at internal services; it is checked again on every
    connection (DNS can change after saving). A custom `base_url` only ever gets this
    stored key, never the server's. Needs a plan with `bring_your_own_keys` (else 403
    `feature_not_in_plan`).
    """
    plan = await plan_of(ctx.services, ctx.caller.organization_id)
    require_feature(plan, Feature.BRING_YOUR_OWN_KEYS)
    if ctx.body.base_url:
        try:
            await ctx.services.egress.check_url(
                ctx.body.base_url, schemes=("http", "https", *WEBSOCKET_SCHEMES))
        except UnresolvableHost:
            pass  # may resolve later; every connection is checked
        except EgressRefused as exc:
            raise ApiError(422, "validation_error", str(exc), detail(
                "body", "base_url", code="destination_refused", message=str(exc))) from None
    row = await creds_db.upsert(
        ctx.db,
        ctx.caller.organization_id,
        _provider(ctx),
        api_key=ctx.body.api_key,
        base_url=ctx.body.base_url,
        box=ctx.services.secret_box,
    )
    await audit.record(ctx, AuditAction.PROVIDER_CREDENTIAL_SET, target_type="provider",
                       target_id=row["provider"], details={"base_url": ctx.body.base_url})
    return ProviderCredentialOut.of(row)


@router.delete("/api/v1/provider-credentials/{provider}", status=204)
async def delete_provider_credential(ctx: ApiContext) -> None:
    """Delete the organization's key for a provider (calls fall back to the server's)"""
    provider = _provider(ctx)
    if not await creds_db.delete(ctx.db, ctx.caller.organization_id, provider):
        raise not_found("provider credential")
    await audit.record(ctx, AuditAction.PROVIDER_CREDENTIAL_DELETED, target_type="provider",
                       target_id=provider)


@router.get("/api/v1/provider-settings", response=ProviderSettings)
async def get_provider_settings(ctx: ApiContext) -> ProviderSettings:
    """The organization's speech providers (the offline engines until set)"""
    stored = await creds_db.get_settings(ctx.db, ctx.caller.organization_id)
    return ProviderSettings.model_validate(stored) if stored else ProviderSettings()


@router.put(
    "/api/v1/provider-settings", body=ProviderSettings, response=ProviderSettings
)
async def put_provider_settings(ctx: ApiContext) -> ProviderSettings:
    """Choose the organization's STT/TTS providers and their fallbacks"""
    await creds_db.put_settings(
        ctx.db, ctx.caller.organization_id, ctx.body.model_dump(mode="json")
    )
    await audit.record(ctx, AuditAction.PROVIDER_SETTINGS_SET, target_type="organization",
                       target_id=ctx.caller.organization_id)
    return ctx.body
