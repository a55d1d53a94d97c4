"""Save-time URL checks (early feedback for tool, webhook and provider URLs).

A thin wrapper over the egress policy (runtime/egress.py), which checks every connection
again when it is made: a URL that passed here can still be refused at use time.
"""

from __future__ import annotations

from runtime.egress import HTTP_SCHEMES, EgressPolicy, EgressRefused


async def destination_problem(url: str, *, allow_private: bool,
                              schemes: tuple[str, ...] = HTTP_SCHEMES) -> str | None:
    """Why ``url`` may not be called, or None when it may (as of now)."""
    try:
        await EgressPolicy(allow_private=allow_private).check_url(url, schemes=schemes)
    except EgressRefused as exc:
        return str(exc)
    return None
