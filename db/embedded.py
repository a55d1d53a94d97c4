"""Embedded PostgreSQL (the ``pgserver`` package) for running with no ``DATABASE_URL``.

A real PostgreSQL server in a data directory, reached over a unix socket: nothing to install.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


class EmbeddedPostgres:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self._server: Any = None

    async def start(self) -> str:
        """Start (or attach to) the server; returns a connection URL for ``postgres``."""
        import pgserver

        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._server = await asyncio.to_thread(
            pgserver.get_server, self.data_dir.resolve(), cleanup_mode="stop"
        )
        return self._server.get_uri("postgres")

    async def stop(self) -> None:
        if self._server is not None:
            await asyncio.to_thread(self._server.cleanup)
            self._server = None
