"""Twilio request signatures, computed the way Twilio signs its webhooks.

``X-Twilio-Signature`` is base64(HMAC-SHA1(auth_token, url + concat(sorted(key + value))))
over the form parameters of a POST. Servers check it with ``twilio.request_validator``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping


def twilio_signature(auth_token: str, url: str, params: Mapping[str, str]) -> str:
    """The ``X-Twilio-Signature`` header Twilio would send for a form POST to ``url``."""
    payload = url + "".join(f"{key}{params[key]}" for key in sorted(params))
    digest = hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()
