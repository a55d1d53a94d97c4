"""The guarded serializer keeps hostile or broken media messages off the pipeline: oversize
messages and messages the carrier's serializer cannot parse are dropped (and counted), the
call goes on; good messages pass through unchanged."""

from __future__ import annotations

import base64
import json

from pipecat.frames.frames import InputAudioRawFrame
from pipecat.processors.frame_processor import FrameProcessorSetup

from telephony.contract import StreamStart
from telephony.guarded_serializer import MAX_MEDIA_MESSAGE_BYTES, GuardedSerializer
from telephony.twilio import TwilioProvider


async def _serializer(max_bytes: int = MAX_MEDIA_MESSAGE_BYTES) -> GuardedSerializer:
    start = StreamStart("CA1", "MZ1", {}, 8000, "mulaw")
    guarded = GuardedSerializer(TwilioProvider({}).serializer(start), max_bytes=max_bytes)
    # only the pipeline's input rate matters to a serializer's set-up
    await guarded.setup(FrameProcessorSetup(clock=None, task_manager=None, pipeline_worker=None,  # type: ignore[arg-type]
                                            audio_in_sample_rate=8000))  # fmt: skip
    return guarded


def _media(payload: bytes) -> str:
    return json.dumps({"event": "media", "streamSid": "MZ1",
                       "media": {"payload": base64.b64encode(payload).decode()}})  # fmt: skip


async def test_good_media_passes_through() -> None:
    guarded = await _serializer()
    frame = await guarded.deserialize(_media(b"\xff" * 160))
    assert isinstance(frame, InputAudioRawFrame) and len(frame.audio) > 0
    assert guarded.dropped == 0


async def test_oversize_messages_are_dropped_before_parsing() -> None:
    guarded = await _serializer(max_bytes=1_000)
    assert await guarded.deserialize(_media(b"\xff" * 2_000)) is None
    assert await guarded.deserialize("x" * (1_001)) is None
    assert guarded.dropped == 2


async def test_messages_the_carrier_cannot_parse_are_dropped() -> None:
    guarded = await _serializer()
    bad = ["not json", '{"event": "media", "media": {"payload": "%%%not-base64"}}', "[]", "{}"]
    for message in bad:
        assert await guarded.deserialize(message) is None
    assert guarded.dropped >= 2  # at least the undecodable ones; the rest are ignored events
    assert isinstance(await guarded.deserialize(_media(b"\xff" * 160)), InputAudioRawFrame)


def test_the_default_limit_is_below_the_websocket_limit() -> None:
    """uvicorn's ``ws_max_size`` must be larger, or an oversize message closes the call
    instead of being dropped here (server/cli.py, tests/conftest.py)."""
    from server.cli import build_parser

    serve = build_parser().parse_args(["serve"])
    assert serve.ws_max_size > MAX_MEDIA_MESSAGE_BYTES
