"""``switchboard rotate-keys``: re-encrypt every stored secret with the newest key."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any


def cmd_rotate_keys(args: argparse.Namespace) -> int:
    from db.crypto import SecretBox, load_or_create_key, rotate_stored_secrets
    from db.migrate import migrate_url
    from db.pool import create_pool
    from server.cli import _settings, _with_database
    from server.coordination.shared_keys import record_rotated

    settings = _settings(args)
    key = load_or_create_key(settings.secrets_key, settings.data_dir)
    box = SecretBox(key)

    async def work(url: str) -> Any:
        await migrate_url(url)
        pool = await create_pool(url, min_size=1, max_size=2)
        try:
            async with pool.acquire() as conn:
                counts = await rotate_stored_secrets(conn, box)
                await record_rotated(conn, key)  # docs/FLEET.md
                return counts
        finally:
            await pool.close()

    counts = asyncio.run(_with_database(settings, work))
    for table, count in counts.items():
        print(f"{table}: {count} re-encrypted")
    print("Every stored secret now uses the first key of SECRET_KEYS; older keys can go.")
    return 0


def add_parser(sub: Any) -> None:
    rotate = sub.add_parser(
        "rotate-keys",
        help="re-encrypt stored secrets with the first key of SECRET_KEYS (after prepending "
        "a new key; then remove the old one)",
    )
    rotate.set_defaults(func=cmd_rotate_keys)
