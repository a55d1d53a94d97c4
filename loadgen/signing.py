"""Webhook signatures, computed the way the carriers sign the requests they send.

- Twilio: ``X-Twilio-Signature`` = base64(HMAC-SHA1(auth token, URL + the sorted form fields
  as key+value)), computed by the twilio SDK's own ``RequestValidator`` (the class servers
  check it with), so caller and server cannot drift apart.
- Plivo: ``X-Plivo-Signature-V3`` (no SDK of Plivo's is installed; the scheme is below).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from urllib.parse import parse_qsl, urlsplit

from twilio.request_validator import RequestValidator


def twilio_signature(auth_token: str, url: str, params: Mapping[str, str]) -> str:
    """The ``X-Twilio-Signature`` header Twilio would send for a form POST to ``url``."""
    return RequestValidator(auth_token).compute_signature(url, dict(params))


def plivo_v3(token: str, url: str, params: Mapping[str, str], nonce: str) -> str:
    """Plivo's V3 signature of a POST: the URL without its query, "?", the URL's query
    parameters sorted as k=v joined by "&" (then "." when there are POST parameters), the
    POST parameters sorted as namevalue, "." and the nonce; HMAC-SHA256, base64."""
    parts = urlsplit(url)
    data = f"{parts.scheme}://{parts.netloc}{parts.path}"
    query = "&".join(f"{k}={v}" for k, v in sorted(parse_qsl(parts.query)))
    if query or params:
        data += "?" + query
    if query and params:
        data += "."
    data += "".join(k + params[k] for k in sorted(params)) + "." + nonce
    return base64.b64encode(hmac.new(token.encode(), data.encode(), hashlib.sha256).digest()).decode()
