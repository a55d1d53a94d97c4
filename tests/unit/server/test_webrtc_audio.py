"""The caller's WebRTC audio is released to the pipeline one packet after it arrives, not
four (aiortc's playout prefetch): checked against the locked aiortc's private attribute, so
an upgrade that moves it fails here."""

from __future__ import annotations

from aiortc import RTCPeerConnection
from aiortc.jitterbuffer import JitterBuffer
from aiortc.rtp import RtpPacket

from server.calls.webrtc_audio import HOLE_PACKETS, INPUT_PREFETCH, CatchUpJitterBuffer, hear_sooner


def _feed(buffer: JitterBuffer, packets: int, lost: frozenset[int] = frozenset()) -> dict[int, int]:
    """20 ms packets 0..packets-1 (``lost`` never arrive): for each frame released, the
    packet whose arrival released it."""
    released: dict[int, int] = {}
    for seq in range(packets):
        if seq in lost:
            continue
        packet = RtpPacket(payload_type=111, sequence_number=seq, timestamp=seq * 960)
        packet._data = b"opus"  # the receiver sets the depacketized payload
        _, frame = buffer.add(packet)
        if frame is not None:
            released[frame.timestamp // 960] = seq
    return released


def _released_after(buffer: JitterBuffer, packets: int) -> list[int]:
    return sorted(_feed(buffer, packets).values())


def test_prefetch_one_releases_a_frame_on_the_next_packet() -> None:
    assert _released_after(JitterBuffer(capacity=16, prefetch=4), 8)[0] == 4  # aiortc: 80 ms
    assert _released_after(JitterBuffer(capacity=16, prefetch=INPUT_PREFETCH), 8)[0] == 1


def test_after_a_lost_packet_the_buffer_catches_up() -> None:
    """aiortc's buffer holds ~15 packets for the rest of the call after one loss (every
    word then reaches the STT ~300 ms late); this one is back to one packet at once."""
    lost = frozenset({5})
    stock = _feed(JitterBuffer(capacity=16, prefetch=INPUT_PREFETCH), 60, lost)
    assert min(arrived - frame for frame, arrived in stock.items() if frame > 30) >= 14
    caught_up = _feed(CatchUpJitterBuffer(capacity=16, prefetch=INPUT_PREFETCH), 60, lost)
    assert all(arrived - frame == 1 for frame, arrived in caught_up.items() if frame != 4)
    assert caught_up[4] == 4 + HOLE_PACKETS + 1  # the frame before the gap, once 3 followed
    dropped = set(range(59)) - lost - set(caught_up)
    assert dropped == {6, 7}  # the backlog the wait built up: 40 ms, once


async def test_audio_receivers_get_the_short_buffer() -> None:
    pc = RTCPeerConnection()
    try:
        pc.addTransceiver("audio", direction="sendrecv")
        [receiver] = [t.receiver for t in pc.getTransceivers()]
        assert receiver._RTCRtpReceiver__jitter_buffer._prefetch == 4  # aiortc's default
        assert hear_sooner(pc) == 1
        assert isinstance(receiver._RTCRtpReceiver__jitter_buffer, CatchUpJitterBuffer)
        assert receiver._RTCRtpReceiver__jitter_buffer._prefetch == INPUT_PREFETCH
        assert receiver._RTCRtpReceiver__jitter_buffer.capacity == 16  # losses handled as before
        assert hear_sooner(pc) == 0  # idempotent (renegotiation calls it again)
    finally:
        await pc.close()
