"""Fleet coordination: concurrency slots and call-control messages.

Without Redis, the in-process versions serve a single instance; with ``REDIS_URL`` the Redis
versions (``redis_limiter``, ``redis_bus``) make them fleet-wide. Same small interfaces.
"""

from server.coordination.bus import ControlBus, InProcessBus
from server.coordination.limiter import ConcurrencyLimiter, InProcessLimiter

__all__ = ["ConcurrencyLimiter", "ControlBus", "InProcessBus", "InProcessLimiter"]
