"""Outbound URL checks for HTTP tools and webhooks (server-side request forgery guard).

Tool and webhook URLs are written by organization admins; on a shared server they must not
reach the server's own network (metadata endpoints, databases, admin ports). Outside
development the check refuses any URL whose host resolves to a non-public address.
"""

from __future__ import annotations

import asyncio
import ipaddress
from urllib.parse import urlsplit


async def destination_problem(url: str, *, allow_private: bool) -> str | None:
    """Why ``url`` may not be called, or None when it may."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "URL must be http(s)://host/..."
    if allow_private:
        return None
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(parts.hostname, parts.port or 443)
    except OSError:
        return f"cannot resolve {parts.hostname}"
    for info in infos:
        if not ipaddress.ip_address(info[4][0]).is_global:
            return f"blocked: {parts.hostname} resolves to a non-public address"
    return None
