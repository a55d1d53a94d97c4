"""The server's egress policy (runtime/egress.py) built from its settings.

``ALLOW_PRIVATE_URLS`` decides whether non-public addresses may be reached. The server's own
public ``/demo/`` routes (``PUBLIC_URL`` + ``/demo/``; without ``PUBLIC_URL``,
``http://localhost:PORT`` and ``http://127.0.0.1:PORT``) are served in-process, so a
template's HTTP tool can call them without opening loopback to tenants.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from runtime.egress import ASGIApp, EgressPolicy

if TYPE_CHECKING:
    from server.settings import Settings

DEMO_PATH = "/demo/"


def own_origins(settings: Settings) -> list[str]:
    """The origins this server answers on, as tenants' tools would write them."""
    if settings.public_url is not None:
        return [settings.public_base_url("")]
    return [f"http://localhost:{settings.port}", f"http://127.0.0.1:{settings.port}"]


def egress_policy(settings: Settings, app: ASGIApp | None = None) -> EgressPolicy:
    """The policy for ``settings``; with ``app``, its ``/demo/`` routes served in-process."""
    in_process = {origin + DEMO_PATH: app for origin in own_origins(settings)} if app else {}
    return EgressPolicy(allow_private=settings.allow_private_urls, in_process=in_process)
