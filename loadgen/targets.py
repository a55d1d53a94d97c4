"""Where the load generator calls: a Twilio-like voice webhook or the WebRTC offer endpoint."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TwilioTarget:
    base_url: str  # e.g. http://127.0.0.1:8000
    webhook_path: str = "/telephony/twilio/voice"
    auth_token: str = "loadtest-auth-token"  # noqa: S105  (a test credential, not a secret)
    account_sid: str = "AC" + "0" * 32
    from_number: str = "+15005550006"
    to_number: str = "+15005550001"
    #: The URL Twilio would sign (the server's PUBLIC_URL + path); default: the URL posted to.
    signed_url: str | None = None

    @property
    def webhook_url(self) -> str:
        return self.base_url.rstrip("/") + self.webhook_path


@dataclass(frozen=True)
class WebRTCTarget:
    base_url: str  # e.g. http://127.0.0.1:8000
    workflow_id: str
    #: An API key (``sk_...``) or a user access token, sent as ``Authorization: Bearer``.
    api_key: str
    offer_path: str = "/api/v1/webrtc/offer"
    #: Run the workflow's draft instead of its published version.
    test: bool = False

    @property
    def offer_url(self) -> str:
        return self.base_url.rstrip("/") + self.offer_path

    @property
    def ice_servers_url(self) -> str:
        return self.base_url.rstrip("/") + "/api/v1/webrtc/ice-servers"
