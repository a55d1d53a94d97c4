"""Retention: recordings older than ``RECORDING_RETENTION_DAYS`` are deleted from the store
and their calls marked (``recording_deleted_reason = 'retention'``). A periodic job
(``server/jobs/registry.py``); idempotent, so several workers may run it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import structlog

from db import recordings as recordings_db
from server.recordings.location import parse_stored_url

if TYPE_CHECKING:
    from server.services import Services

log = structlog.get_logger(__name__)
BATCH = 200
SWEEP_EVERY_SECONDS = 3600.0


async def sweep_expired_recordings(services: Services, *, now: datetime | None = None) -> int:
    """Delete expired recordings; returns how many were deleted."""
    days = services.settings.recording_retention_days
    if days is None:
        return 0
    cutoff = (now or datetime.now(UTC)) - timedelta(days=days)
    recordings, deleted, failed = services.recordings, 0, 0
    while True:
        batch = await recordings_db.expired(services.db, ended_before=cutoff, limit=BATCH)
        progressed = False
        for item in batch:
            try:
                await recordings.run(recordings.store.delete, parse_stored_url(item.url))
            except Exception as exc:  # the store is down: try again at the next sweep
                failed += 1
                log.warning("recording_retention_delete_failed", call_id=str(item.call_id),
                            error=f"{type(exc).__name__}: {exc}"[:300])  # fmt: skip
                continue
            if await recordings_db.mark_deleted(services.db, item.organization_id, item.call_id,
                                                reason="retention", url=item.url):  # fmt: skip
                deleted += 1
                progressed = True
        if len(batch) < BATCH or not progressed:
            break
    if deleted or failed:
        log.info("recording_retention_swept", deleted=deleted, failed=failed, days=days)
    return deleted
