"""What an organization brings to a call or a chat: speech providers, keys, tool secrets.

Shared by the call lifecycle and the text chat route, so neither reaches into the other's
module (or into route modules).
"""

from __future__ import annotations

from uuid import UUID

from db import provider_credentials as creds_db
from db import tool_secrets as secrets_db
from pipeline.providers import ProviderCredentials, ProviderSettings, resolve_credentials
from server.services import Services


async def load_call_providers(
    services: Services, organization_id: UUID
) -> tuple[ProviderSettings, ProviderCredentials]:
    """An organization's provider settings and resolved credentials, for building a call.

    Credentials: the organization's stored keys first, then the server's environment
    (``DEEPGRAM_API_KEY``, ...); providers with no key anywhere run on the offline engine.
    """
    async with services.db.acquire() as conn:
        stored_settings = await creds_db.get_settings(conn, organization_id)
        stored = await creds_db.load_decrypted(conn, organization_id, services.secret_box)
    settings = (
        ProviderSettings.model_validate(stored_settings) if stored_settings else ProviderSettings()
    )
    return settings, resolve_credentials(stored, services.settings, egress=services.egress)


async def load_tool_secrets(services: Services, organization_id: UUID) -> dict[str, str]:
    """An organization's tool secrets, decrypted, for ``create_session(secrets=...)``."""
    return await secrets_db.load_decrypted(services.db, organization_id, services.secret_box)
