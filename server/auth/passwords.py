"""Password hashing with Argon2id (argon2-cffi's recommended parameters: 64 MiB each).

Hashes run on a small dedicated thread pool (``PASSWORD_HASH_CONCURRENCY`` threads), never on
the default executor that calls use, and at most ``PASSWORD_HASH_QUEUE`` more may wait:
past that the request is refused (503, ``Retry-After``), so a login or signup flood cannot
take the CPU or memory from live calls. Unknown emails still cost one hash (same timing as a
wrong password) under the same bound.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from server.errors import ApiError

_hasher = PasswordHasher()
# Verifying against this keeps unknown-email logins as slow as wrong-password ones.
_DUMMY_HASH = _hasher.hash("not-a-real-password")
T = TypeVar("T")


class _HashPool:
    def __init__(self, concurrency: int = 2, queue: int = 32) -> None:
        self.configure(concurrency, queue)

    def configure(self, concurrency: int, queue: int) -> None:
        old: ThreadPoolExecutor | None = getattr(self, "_executor", None)
        if old is not None:
            old.shutdown(wait=False)  # hashes already running finish on it
        self.concurrency = concurrency
        self.capacity = concurrency + queue  # running + waiting
        self.pending: int = getattr(self, "pending", 0)  # requests in flight stay counted
        self._executor = ThreadPoolExecutor(concurrency, thread_name_prefix="argon2")

    async def run(self, work: Callable[..., T], *args: object) -> T:
        if self.pending >= self.capacity:
            raise ApiError(503, "busy", "too many sign-ins at once: retry shortly",
                           headers={"Retry-After": "2"})
        self.pending += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, work, *args)
        finally:
            self.pending -= 1


HASH_POOL = _HashPool()


def configure(concurrency: int, queue: int) -> None:
    """Size the hash pool from settings (the auth routes pass theirs on each use; a no-op
    unless the sizes changed)."""
    if (HASH_POOL.concurrency, HASH_POOL.capacity) != (concurrency, concurrency + queue):
        HASH_POOL.configure(concurrency, queue)


async def hash_password(password: str) -> str:
    return await HASH_POOL.run(_hasher.hash, password)


def _check(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False


async def verify_password(password_hash: str | None, password: str) -> bool:
    """Constant-work check; ``None`` (unknown user) still spends one verification."""
    return await HASH_POOL.run(_check, password_hash, password)
