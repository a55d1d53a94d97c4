"""Per-call observers: latency breakdown, transcript turns and usage."""
