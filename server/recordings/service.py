"""``Services.recordings``: store each finished call's recording, delete recordings.

At the end of a call (``call_ended``, from the session's finalize step) the recording the
pipeline streamed to disk is stored in the background: put into the store on the store's own
worker threads (uploads never touch the event loop, let alone the audio path), the call row
told where it is, and the local copy removed only after the store confirmed it. A failed
upload is retried with exponential backoff (``RECORDING_UPLOAD_RETRY_SECONDS`` doubling up to
five minutes) for as long as the process lives; recordings still in the spool when an
instance starts (it stopped before an upload succeeded) are picked up again (``resume``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import random
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from uuid import UUID

import structlog

from db import recordings as recordings_db
from server.recordings.location import parse_stored_url
from server.recordings.store import RecordingStore

if TYPE_CHECKING:
    import asyncpg

    from server.services import Services
    from server.settings import Settings

log = structlog.get_logger(__name__)
T = TypeVar("T")
MAX_RETRY_SECONDS = 300.0
STORE_THREADS = 4  # uploads, reads and deletes at once per process


class Recordings:
    def __init__(self, settings: Settings, db: asyncpg.Pool) -> None:
        self.store = RecordingStore(settings)
        self.db = db
        self.retry_base = settings.recording_upload_retry_seconds
        self._executor = ThreadPoolExecutor(STORE_THREADS, thread_name_prefix="recordings")
        self._uploads: dict[str, asyncio.Task[None]] = {}
        self._closed = False

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run blocking store I/O on the store's threads."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, *args))

    def spool_path(self, organization_id: object, call_id: object) -> Path:
        return self.store.spool_path(organization_id, call_id)

    @property
    def uploading(self) -> int:
        return len(self._uploads)

    def call_ended(self, organization_id: UUID, call_id: UUID, path: str | Path) -> None:
        """Store the call's finished recording in the background (never blocks)."""
        key = str(call_id)
        if self._closed or key in self._uploads:
            return
        task = asyncio.create_task(self._store_with_retries(organization_id, call_id, Path(path)),
                                   name=f"recording-store:{key}")  # fmt: skip
        self._uploads[key] = task
        task.add_done_callback(lambda t: self._forget(key, t))

    def _forget(self, key: str, task: asyncio.Task[None]) -> None:
        if self._uploads.get(key) is task:  # not a newer upload of the same call
            del self._uploads[key]

    async def store_once(self, organization_id: UUID, call_id: UUID, path: Path) -> None:
        """One attempt: put, verify, record on the call, then drop the local copy."""
        stored = await self.run(self.store.put, path, organization_id, call_id)
        kept = await recordings_db.mark_stored(self.db, organization_id, call_id, url=stored.url,
                                               size=stored.size, local_path=str(path))  # fmt: skip
        if not kept:  # deleted while it was uploading (or the call is gone): delete it too
            await self.run(self.store.delete, parse_stored_url(stored.url))
        if self.store.remote:
            await self.run(path.unlink, True)
        log.info("recording_stored", call_id=str(call_id), url=stored.url, size=stored.size,
                 kept=kept)  # fmt: skip

    async def _store_with_retries(self, organization_id: UUID, call_id: UUID, path: Path) -> None:
        attempt = 0
        while True:
            try:
                await self.store_once(organization_id, call_id, path)
                return
            except FileNotFoundError:
                log.warning("recording_missing", call_id=str(call_id), path=str(path))
                return
            except Exception as exc:
                attempt += 1
                delay = min(self.retry_base * 2 ** (attempt - 1), MAX_RETRY_SECONDS)
                delay *= 1 + random.uniform(0, 0.1)
                log.warning("recording_store_failed", call_id=str(call_id), attempt=attempt,
                            error=f"{type(exc).__name__}: {exc}"[:300], retry_in=round(delay, 1))  # fmt: skip
                await asyncio.sleep(delay)

    async def resume(self) -> int:
        """Queue the recordings left in the spool by an earlier run of this instance."""
        found = await self.run(lambda: list(self.store.spooled()))
        queued = 0
        for org, call, path in found:
            try:
                self.call_ended(UUID(org), UUID(call), path)
            except ValueError:
                log.warning("recording_spool_stray_file", path=str(path))
                continue
            queued += 1
        if queued:
            log.info("recording_uploads_resumed", count=queued)
        return queued

    def cancel_upload(self, call_id: UUID) -> None:
        task = self._uploads.pop(str(call_id), None)
        if task is not None:
            task.cancel()

    async def wait_idle(self, seconds: float) -> bool:
        """Wait until no upload is in flight (at most ``seconds``); True when idle."""
        deadline = asyncio.get_running_loop().time() + seconds
        while self._uploads:
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                break
            await asyncio.wait(list(self._uploads.values()), timeout=left)  # never cancels them
        return not self._uploads

    async def close(self, grace_seconds: float = 10.0) -> None:
        """Let uploads in flight finish (up to ``grace_seconds``); the rest stay in the spool."""
        self._closed = True
        if self._uploads and not await self.wait_idle(grace_seconds):
            log.warning("recording_uploads_left_in_spool", count=len(self._uploads))
            tasks = list(self._uploads.values())
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        self._executor.shutdown(wait=False, cancel_futures=True)


@contextlib.asynccontextmanager
async def recording_uploads(services: Services) -> AsyncIterator[None]:
    """Lifespan hook of ``switchboard serve``: resume the uploads an earlier run left in the
    spool. (``open_services`` closes ``Recordings`` last: uploads in flight get a moment.)"""
    try:
        await services.recordings.resume()
    except Exception:
        log.exception("recording_uploads_resume_failed")
    yield
