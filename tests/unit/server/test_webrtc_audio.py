"""The caller's WebRTC audio is released to the pipeline as each packet arrives, not four
packets later (aiortc's playout prefetch): checked against the locked aiortc's private
attribute, so an upgrade that moves it fails here."""

from __future__ import annotations

from aiortc import RTCPeerConnection
from aiortc.jitterbuffer import JitterBuffer
from aiortc.rtp import RtpPacket

from server.calls.webrtc_audio import HOLE_PACKETS, INPUT_PREFETCH, CatchUpJitterBuffer, hear_sooner


def _feed(
    buffer: JitterBuffer, packets: int, lost: frozenset[int] = frozenset(), order: list[int] | None = None
) -> dict[int, int]:
    """20 ms packets 0..packets-1 (``lost`` never arrive; ``order``: the arrival order):
    for each frame released, the packet whose arrival released it."""
    released: dict[int, int] = {}
    for seq in order or range(packets):
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


def test_a_packet_in_order_is_released_on_arrival() -> None:
    assert _released_after(JitterBuffer(capacity=16, prefetch=4), 8)[0] == 4  # aiortc: 80 ms
    assert _released_after(JitterBuffer(capacity=16, prefetch=1), 8)[0] == 1  # still 20 ms
    released = _feed(CatchUpJitterBuffer(capacity=16, prefetch=INPUT_PREFETCH), 8)
    assert released == {seq: seq for seq in range(8)}  # every frame on its own packet


def test_after_a_lost_packet_the_buffer_catches_up() -> None:
    """aiortc's buffer holds ~15 packets for the rest of the call after one loss (every
    word then reaches the STT ~300 ms late); this one is back to releasing each packet on
    arrival."""
    lost = frozenset({5})
    stock = _feed(JitterBuffer(capacity=16, prefetch=1), 60, lost)
    assert min(arrived - frame for frame, arrived in stock.items() if frame > 30) >= 14
    caught_up = _feed(CatchUpJitterBuffer(capacity=16, prefetch=INPUT_PREFETCH), 60, lost)
    assert caught_up[6] == 5 + HOLE_PACKETS  # the gap given up once 3 packets followed it
    assert all(arrived == frame for frame, arrived in caught_up.items() if frame != 6)
    dropped = set(range(60)) - lost - set(caught_up)
    assert dropped == {7, 8}  # the backlog the wait built up: 40 ms, once


def test_a_packet_out_of_order_costs_one_frame_not_the_rest_of_the_call() -> None:
    order = [0, 1, 2, 3, 4, 6, 5, *range(7, 20)]  # 6 overtakes 5
    released = _feed(CatchUpJitterBuffer(capacity=16, prefetch=INPUT_PREFETCH), 20, order=order)
    assert released[5] == 5  # the late one, as soon as it arrives
    assert 6 not in released  # it came before 5: dropped, one frame can go per packet
    assert all(released[seq] == seq for seq in range(7, 20))  # on arrival again
    # two lost in a row, then the first of them late: it is released, not dropped
    order = [0, 1, 4, 2, *range(5, 12)]
    released = _feed(CatchUpJitterBuffer(capacity=16, prefetch=INPUT_PREFETCH), 12, order=order)
    assert released[2] == 2 and 3 not in released
    assert all(released[seq] == seq for seq in range(7, 12))


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
