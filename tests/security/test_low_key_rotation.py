"""Low: Fernet with a single key and no rotation. SECRET_KEYS holds several keys (the first
encrypts, all decrypt) and rotate_stored_secrets (`switchboard rotate-keys`) re-encrypts
every stored secret with the newest key, so the old key can be dropped."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from db import provider_credentials as creds_db
from db import tool_secrets as secrets_db
from db.crypto import SecretBox, rotate_stored_secrets
from server.settings import load_settings
from tests.conftest import fresh_database

pytestmark = pytest.mark.integration


@pytest.fixture
async def own_database(database_url):
    """A database of its own: rotation rewrites every secret, which the shared server's key
    could then not read."""
    async with fresh_database(database_url, "sb_rotate") as url:
        yield url


async def test_rotate_then_drop_the_old_key(own_database):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    from db.pool import create_pool

    pool = await create_pool(own_database, min_size=1, max_size=2)
    try:
        org = await pool.fetchval("INSERT INTO organizations (name) VALUES ('r') RETURNING id")
        before = SecretBox(old)
        await creds_db.upsert(pool, org, "deepgram", api_key="dg-secret-000111", base_url=None,
                              box=before)
        await secrets_db.upsert(pool, org, "crm", value_ciphertext=before.encrypt("crm-value"),
                                hint="")
        both = SecretBox(load_settings(_env_file=None, secret_keys=f"{new},{old}").secrets_key)
        assert (await secrets_db.load_decrypted(pool, org, both)) == {"crm": "crm-value"}

        async with pool.acquire() as conn:
            counts = await rotate_stored_secrets(conn, both)
        assert counts["provider_credentials"] == 1 and counts["tool_secrets"] == 1

        only_new = SecretBox(new)
        assert (await secrets_db.load_decrypted(pool, org, only_new)) == {"crm": "crm-value"}
        creds = await creds_db.load_decrypted(pool, org, only_new)
        assert creds["deepgram"].api_key == "dg-secret-000111"
        with pytest.raises(ValueError):
            await secrets_db.load_decrypted(pool, org, SecretBox(old))
    finally:
        await pool.close()
