"""Security headers on every HTTP response (pure ASGI middleware).

- ``Content-Security-Policy``: same-origin scripts, styles and connections only, which is
  what ``/docs`` (Swagger UI, vendored) and the console (fetch + WebRTC) need; inline styles
  are allowed for Swagger UI; ``frame-ancestors 'none'`` forbids framing (clickjacking).
- ``X-Content-Type-Options: nosniff``, ``Referrer-Policy: no-referrer``,
  ``X-Frame-Options: DENY`` (older browsers), ``Permissions-Policy`` (microphone for this
  origin only, for the console's Test page; no camera, no geolocation).
- ``Strict-Transport-Security`` only when ``PUBLIC_URL`` is https (behind TLS); never on
  plain-HTTP development servers, where it would break the next http:// visit.

A header the route set itself is kept.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.middleware import Middleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

if TYPE_CHECKING:
    from server.settings import Settings

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; media-src 'self' blob:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
_BASE: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"permissions-policy", b"microphone=(self), camera=(), geolocation=()"),
)
_HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp, *, https: bool = False) -> None:
        self.app = app
        self.headers = _BASE + ((_HSTS,) if https else ())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                existing = {k.lower() for k, _ in message.get("headers", ())}
                extra = [(k, v) for k, v in self.headers if k not in existing]
                message["headers"] = [*message.get("headers", ()), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def https_deployment(public_url: object) -> bool:
    """True when the externally visible URL is https (HSTS applies)."""
    return str(public_url or "").startswith("https://")


def security_headers(settings: Settings) -> Middleware:
    """The middleware entry for the app factory (one line in ``server.app``)."""
    return Middleware(SecurityHeadersMiddleware, https=https_deployment(settings.public_url))
