"""Which verified callbacks prove they are about an in-doubt keyed dial's call (and so may
give its row the carrier's call id): the carrier signs the URL naming the call (Twilio,
Plivo), or the callback echoes the dial's key (Telnyx ``client_state``, Exotel
``CustomField``). A signed callback of another call replayed to this call's URL proves
nothing with a carrier whose signature leaves the URL out."""

from __future__ import annotations

import base64
import json
import uuid

from db.calls import CallStatus
from db.carriers import CarrierCall
from server.calls.phone.outbound import proves_dial
from telephony.contract import StatusUpdate
from telephony.exotel import ExotelProvider
from telephony.plivo import PlivoProvider
from telephony.telnyx import TelnyxProvider
from telephony.twilio import TwilioProvider
from telephony.vonage import VonageProvider

KEY = "sb-" + "a" * 32


def _call(key: str | None = KEY, direction: str = "outbound") -> CarrierCall:
    return CarrierCall(
        id=uuid.uuid4(), organization_id=uuid.uuid4(), workflow_id=None, workflow_version=None,
        status=CallStatus.QUEUED, direction=direction, carrier="x", carrier_call_id=None,
        carrier_account_id=uuid.uuid4(), metadata={"idempotency_key": key} if key else {},
        credentials=None, answered_at=None, ended_at=None, stream_connected_at=None,
    )  # fmt: skip


def _telnyx_hangup(client_state: str) -> bytes:
    return json.dumps({"data": {"event_type": "call.hangup", "payload": {
        "call_control_id": "v3:abc", "hangup_cause": "user_busy",
        "client_state": client_state}}}).encode()  # fmt: skip


def test_telnyx_echoes_the_key_in_client_state() -> None:
    telnyx = TelnyxProvider({"api_key": "k", "public_key": ""})
    ours = telnyx.parse_status(_telnyx_hangup(base64.b64encode(KEY.encode()).decode()), {})
    assert ours.echoed_key == KEY and ours.status == "busy"
    assert proves_dial(telnyx, _call(), ours)
    # another call's webhook (another key), replayed to this call's URL: no proof
    other = telnyx.parse_status(_telnyx_hangup(base64.b64encode(b"sb-" + b"b" * 32).decode()), {})
    assert not proves_dial(telnyx, _call(), other)
    assert not proves_dial(telnyx, _call(), telnyx.parse_status(_telnyx_hangup(""), {}))


def test_exotel_echoes_the_key_in_custom_field() -> None:
    exotel = ExotelProvider({"account_sid": "a", "api_key": "k", "api_token": "t"})
    body = f"CallSid=abc123&Status=busy&CustomField={KEY}".encode()
    update = exotel.parse_status(body, {})
    assert update.echoed_key == KEY and proves_dial(exotel, _call(), update)
    assert not proves_dial(exotel, _call(), exotel.parse_status(b"CallSid=abc123&Status=busy", {}))


def test_a_signed_url_proves_it_and_only_for_keyed_outbound_dials() -> None:
    update = StatusUpdate("CA1", "busy")
    for provider in (TwilioProvider({"account_sid": "AC1", "auth_token": "t"}),
                     PlivoProvider({"auth_id": "MA1", "auth_token": "t"})):  # fmt: skip
        assert provider.signature_binds_url and proves_dial(provider, _call(), update)
        assert not proves_dial(provider, _call(key=None), update)  # not a campaign dial
        assert not proves_dial(provider, _call(direction="inbound"), update)
    vonage = VonageProvider({"application_id": "app", "private_key": "", "public_key": ""})
    assert not vonage.signature_binds_url and not proves_dial(vonage, _call(), update)


def test_only_twilio_replays_a_keyed_dial() -> None:
    assert TwilioProvider.dial_replays
    assert not any(p.dial_replays for p in (TelnyxProvider, PlivoProvider, VonageProvider, ExotelProvider))
