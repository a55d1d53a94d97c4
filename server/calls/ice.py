"""ICE servers for browser calls: STUN URLs and TURN with time-limited REST credentials.

TURN credentials follow coturn's ``use-auth-secret`` scheme (the "TURN REST API" draft):
``username = "<expiry unix time>:<user>"`` and ``credential = base64(HMAC-SHA1(secret,
username))``. coturn recomputes the HMAC with its ``static-auth-secret`` and rejects the
username once its expiry time has passed, so a leaked credential is useless after the TTL.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class IceServerConfig:
    urls: list[str]
    username: str | None = None
    credential: str | None = None

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"urls": self.urls}
        if self.username is not None:
            out["username"] = self.username
            out["credential"] = self.credential
        return out


def turn_rest_credentials(
    secret: str, user: str, ttl_seconds: int, *, now: float | None = None
) -> tuple[str, str]:
    """(username, credential) valid for ``ttl_seconds`` on a coturn with this secret."""
    expiry = int(now if now is not None else time.time()) + int(ttl_seconds)
    username = f"{expiry}:{user}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode()


def _split(value: str) -> list[str]:
    return [u.strip() for u in value.split(",") if u.strip()]


def ice_servers(settings, user: str) -> list[IceServerConfig]:
    """The ICE servers a peer (browser or our own aiortc side) should use right now."""
    servers: list[IceServerConfig] = []
    stun = _split(getattr(settings, "webrtc_stun_urls", "") or "")
    if stun:
        servers.append(IceServerConfig(urls=stun))
    turn = _split(getattr(settings, "webrtc_turn_urls", "") or "")
    secret = getattr(settings, "webrtc_turn_secret", None)
    if turn and secret:
        username, credential = turn_rest_credentials(
            secret, user, getattr(settings, "webrtc_turn_ttl_seconds", 3600)
        )
        servers.append(IceServerConfig(urls=turn, username=username, credential=credential))
    return servers
