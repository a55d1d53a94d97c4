"""Twilio provider: signatures, TwiML, media-stream handshake, serializer, REST via the SDK
against the fake Twilio REST server."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import xml.etree.ElementTree as ET
from urllib.parse import urlencode

import pytest
from pipecat.frames.frames import InputDTMFFrame, InterruptionFrame, OutputAudioRawFrame
from pipecat.processors.frame_processor import FrameProcessorSetup

from telephony.contract import CarrierApiError, DialRequest, HandshakeInvalid, WebhookRejected
from telephony.twilio import TwilioProvider
from tests.fakes.carriers.twilio_rest import FakeTwilioRest

SID = "AC" + "1" * 32
TOKEN = "twilio-auth-token-for-tests"
URL = "https://switchboard.example.com/telephony/twilio/voice"


def twilio_signature(token: str, url: str, params: dict[str, str]) -> str:
    """Twilio's documented scheme, written independently of the SDK: base64 HMAC-SHA1 of
    the URL followed by each POST field name+value, sorted by name."""
    data = url + "".join(k + params[k] for k in sorted(params))
    return base64.b64encode(hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()).decode()


def twiml(text: str) -> ET.Element:
    return ET.fromstring(text)  # noqa: S314 - TwiML we generated ourselves


def provider(base_url: str | None = None) -> TwilioProvider:
    return TwilioProvider({"account_sid": SID, "auth_token": TOKEN}, api_base_url=base_url)


VOICE = {"CallSid": "CA" + "a" * 32, "From": "+14155550100", "To": "+14155550199",
         "AccountSid": SID, "CallStatus": "ringing"}  # fmt: skip


def test_signature_accepts_twilio_signed_request_and_rejects_forgeries() -> None:
    body = urlencode(VOICE).encode()
    good = {"x-twilio-signature": twilio_signature(TOKEN, URL, VOICE)}
    p = provider()
    assert p.verify_webhook(URL, good, body)
    # wrong token, tampered body, different URL (e.g. the proxied one), missing header
    forged = {"x-twilio-signature": twilio_signature("x", URL, VOICE)}
    assert not p.verify_webhook(URL, forged, body)
    tampered = urlencode({**VOICE, "To": "+14155550111"}).encode()
    assert not p.verify_webhook(URL, good, tampered)
    assert not p.verify_webhook("http://10.0.0.5:8000/telephony/twilio/voice", good, body)
    assert not p.verify_webhook(URL, {}, body)
    assert not p.verify_webhook(URL, good, b"\xff\xfe")


def test_parse_inbound_and_malformed() -> None:
    call = provider().parse_inbound(urlencode(VOICE).encode(), {})
    assert (call.carrier_call_id, call.from_number, call.to_number) == (
        VOICE["CallSid"], "+14155550100", "+14155550199",
    )  # fmt: skip
    with pytest.raises(WebhookRejected):
        provider().parse_inbound(b"From=%2B1415", {})


def test_answer_markup_connects_stream_with_token_parameter() -> None:
    ctype, body = provider().answer_markup("wss://h/telephony/twilio/stream", {"token": "t&<1"})
    assert ctype == "application/xml"
    root = twiml(body)
    stream = root.find("./Connect/Stream")
    assert stream is not None and stream.get("url") == "wss://h/telephony/twilio/stream"
    params = {p.get("name"): p.get("value") for p in stream.findall("Parameter")}
    assert params == {"token": "t&<1"}


def test_reject_markup() -> None:
    assert twiml(provider().reject_markup("rejected")[1]).find("Reject") is not None
    busy = twiml(provider().reject_markup("busy")[1]).find("Reject")
    assert busy is not None and busy.get("reason") == "busy"
    unavailable = twiml(provider().reject_markup("unavailable")[1])
    assert unavailable.find("Say") is not None and unavailable.find("Hangup") is not None


@pytest.mark.parametrize(
    ("form", "status", "answered_by", "duration"),
    [
        ({"CallStatus": "initiated"}, "queued", None, None),
        ({"CallStatus": "ringing"}, "ringing", None, None),
        ({"CallStatus": "in-progress"}, "in-progress", None, None),
        ({"CallStatus": "completed", "CallDuration": "42"}, "completed", None, 42),
        ({"CallStatus": "busy"}, "busy", None, None),
        ({"CallStatus": "no-answer"}, "no-answer", None, None),
        ({"AnsweredBy": "machine_end_beep"}, "in-progress", "machine", None),
        ({"CallStatus": "in-progress", "AnsweredBy": "human"}, "in-progress", "human", None),
    ],
)
def test_parse_status(form: dict, status: str, answered_by: str | None, duration: int | None) -> None:
    body = urlencode({"CallSid": "CA1", **form}).encode()
    update = provider().parse_status(body, {})
    assert (update.status, update.answered_by, update.duration_seconds) == (
        status, answered_by, duration,
    )  # fmt: skip


def _start(**custom: str) -> str:
    return json.dumps({
        "event": "start", "sequenceNumber": "1", "streamSid": "MZ1",
        "start": {"accountSid": SID, "streamSid": "MZ1", "callSid": "CA9",
                  "tracks": ["inbound"], "customParameters": custom,
                  "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}},
    })  # fmt: skip


def test_parse_stream_start() -> None:
    p = provider()
    connected = json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"})
    assert p.parse_stream_start([connected], {}) is None
    start = p.parse_stream_start([connected, _start(token="abc")], {})
    assert start is not None
    assert (start.carrier_call_id, start.stream_id, start.sample_rate) == ("CA9", "MZ1", 8000)
    assert start.custom_parameters == {"token": "abc"}
    for bad in ["not json", "[]", json.dumps({"event": "media"}), json.dumps({"event": "start"})]:
        with pytest.raises(HandshakeInvalid):
            p.parse_stream_start([bad], {})


async def test_serializer_speaks_twilio_media_protocol_without_auto_hangup() -> None:
    p = provider()
    start = p.parse_stream_start([_start()], {})
    assert start is not None
    serializer = p.serializer(start)
    await serializer.setup(
        FrameProcessorSetup(clock=None, task_manager=None, pipeline_worker=None)  # type: ignore[arg-type]
    )
    clear = json.loads(await serializer.serialize(InterruptionFrame()))  # type: ignore[arg-type]
    assert clear == {"event": "clear", "streamSid": "MZ1"}
    audio = OutputAudioRawFrame(audio=b"\x00\x10" * 160, sample_rate=8000, num_channels=1)
    media = json.loads(await serializer.serialize(audio))  # type: ignore[arg-type]
    assert media["event"] == "media" and len(base64.b64decode(media["media"]["payload"])) == 160
    dtmf = await serializer.deserialize(json.dumps({"event": "dtmf", "dtmf": {"digit": "5"}}))
    assert isinstance(dtmf, InputDTMFFrame) and dtmf.button.value == "5"


async def test_rest_call_control_through_the_sdk_against_fake_twilio() -> None:
    async with FakeTwilioRest(SID, TOKEN) as fake:
        p = provider(fake.http_url)
        sid = await p.dial(DialRequest("+14155550123", "+14155550199", "https://h/answer",
                                       "https://h/status", machine_detection=True))  # fmt: skip
        created = fake.requests[-1]
        assert created.path.endswith(f"/Accounts/{SID}/Calls.json")
        assert (created.get("To"), created.get("From"), created.get("Url")) == (
            "+14155550123", "+14155550199", "https://h/answer",
        )  # fmt: skip
        assert created.get("StatusCallback") == "https://h/status"
        assert created.form["StatusCallbackEvent"] == ["initiated", "ringing", "answered",
                                                       "completed"]  # fmt: skip
        assert created.get("MachineDetection") == "DetectMessageEnd"
        assert created.get("AsyncAmd") == "true"
        assert sid in fake.calls

        await p.transfer(sid, "+14155550155")
        dial = twiml(fake.calls[sid].twiml_updates[-1]).find("./Dial/Number")
        assert dial is not None and dial.text == "+14155550155"
        await p.send_dtmf(sid, "12#")
        play = twiml(fake.calls[sid].twiml_updates[-1]).find("Play")
        assert play is not None and play.get("digits") == "12#"
        await p.hangup(sid)
        assert fake.calls[sid].status == "completed"
        await p.hangup("CA" + "0" * 32)  # already gone: a 404 is not an error

        bad = TwilioProvider({"account_sid": SID, "auth_token": "wrong"},
                             api_base_url=fake.http_url)  # fmt: skip
        with pytest.raises(CarrierApiError) as refused:
            await bad.hangup(sid)
        assert refused.value.code == "carrier_auth_failed" and "Authenticate" not in str(refused.value)
