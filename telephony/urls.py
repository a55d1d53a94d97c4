"""URL helpers shared by carriers that carry stream parameters in the websocket URL."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit


def with_query(url: str, params: Mapping[str, str]) -> str:
    """``url`` with ``params`` added to its query string."""
    if not params:
        return url
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    return urlunsplit(parts._replace(query=urlencode(query)))


def parse_form(body: bytes) -> dict[str, str]:
    """A form-encoded body (or query string) as a dict (last value wins); ``ValueError``
    when it is not UTF-8."""
    return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
