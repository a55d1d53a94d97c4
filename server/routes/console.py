"""The console: a single-page web UI served at ``/`` (the API stays under ``/api/v1``).

``index.html`` is served for ``/`` and every client-side page (``/workflows/...``,
``/calls/...``, ...); the ES modules, styles and vendored Preact + htm are served from
``/console/...``. Nothing is built at run time and nothing is loaded from another origin: the
page's Content-Security-Policy allows only this origin (plus ``blob:`` media for recordings
fetched with the bearer token), and the one inline script, the import map, by its hash.
"""

from __future__ import annotations

import base64
import hashlib
import re
from functools import cache
from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.staticfiles import StaticFiles

from server.api import RawDoc, Router
from server.errors import not_found

router = Router(tags=["console"])
CONSOLE_DIR = Path(__file__).resolve().parent.parent / "console"
INDEX = CONSOLE_DIR / "index.html"
_IMPORT_MAP = re.compile(r'<script type="importmap">(.*?)</script>', re.DOTALL)

# Client-side pages (the console's router draws them); each gets index.html.
PAGES = ("/", "/signin", "/signup", "/invitation", "/home", "/workflows", "/workflows/{rest:path}",
         "/test", "/calls", "/calls/{rest:path}", "/live", "/campaigns", "/campaigns/{rest:path}",
         "/usage", "/billing", "/settings", "/settings/{rest:path}")  # fmt: skip


@cache
def _index() -> tuple[bytes, str]:
    html = INDEX.read_text(encoding="utf-8")
    match = _IMPORT_MAP.search(html)
    hashes = ""
    if match:
        digest = base64.b64encode(hashlib.sha256(match.group(1).encode()).digest()).decode()
        hashes = f" 'sha256-{digest}'"
    csp = (
        "default-src 'self'; "
        f"script-src 'self'{hashes}; "
        "style-src 'self'; img-src 'self' data:; media-src 'self' blob:; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
        "form-action 'self'"
    )
    return html.encode(), csp


def _security_headers(csp: str) -> dict[str, str]:
    return {
        "Content-Security-Policy": csp,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-cache",
    }


async def console_page(_request: Request) -> Response:
    body, csp = _index()
    return HTMLResponse(body, headers=_security_headers(csp))


_files = StaticFiles(directory=CONSOLE_DIR)


async def console_asset(request: Request) -> Response:
    path = request.path_params["path"]
    if path == "index.html" or not path:
        raise not_found("file")
    response = await _files.get_response(path, request.scope)
    if response.status_code == 404:
        raise not_found("file")
    response.headers["X-Content-Type-Options"] = "nosniff"
    if path.endswith(".mjs") or path.endswith(".js"):
        response.headers["Content-Type"] = "text/javascript; charset=utf-8"
    return response


router.raw_route(
    "/", console_page, methods=["GET"],
    doc=RawDoc("GET", "/", "The console (single-page web UI); its client-side pages "
               "(/workflows, /calls/{id}, /settings, ...) serve the same HTML",
               tags=["console"], responses={"200": "HTML page"}),
)  # fmt: skip
router.raw_routes.extend(Route(p, console_page, methods=["GET"]) for p in PAGES if p != "/")
router.raw_route(
    "/console/{path:path}", console_asset, methods=["GET"],
    doc=RawDoc("GET", "/console/{path}", "Console assets: ES modules, styles, vendored modules",
               tags=["console"], responses={"200": "file", "404": "no such file"}),
)  # fmt: skip


async def talk_redirect(request: Request) -> Response:
    """The old voice test page: the console's Test page is the one voice client now."""
    query = request.url.query
    return RedirectResponse("/test" + (f"?{query}" if query else ""), status_code=308)


router.raw_route(
    "/talk", talk_redirect, methods=["GET"],
    doc=RawDoc("GET", "/talk", "The former voice test page: redirects to the console's Test "
               "page (/test)", tags=["console"], responses={"308": "redirect to /test"}),
)  # fmt: skip
