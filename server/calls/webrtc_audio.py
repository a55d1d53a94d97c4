"""The caller's audio over WebRTC reaches the pipeline as each packet arrives.

aiortc gives every audio receiver a jitter buffer that releases a 20 ms frame only once the
four packets after it have arrived (``JitterBuffer(capacity=16, prefetch=4)``): 80 ms
between the caller's voice reaching the server and the STT hearing it, on every frame, on
every call. That holding back is for smooth playout; a server does not play the caller's
audio, it recognises it, and a packet arriving a little late is only heard a little late.
Even a prefetch of 1 holds each frame until the next packet shows it is whole, but an audio
packet is always a whole frame (Opus never splits one), so a packet that arrives in order
with nothing held is released at once: end of turn is heard 80 ms sooner than with aiortc's
buffer.

aiortc's buffer also never catches up after a lost packet: the gap holds everything back
until the 16 slots are full, it then drops just enough to fit and goes on releasing one
frame per arriving packet, so the ~15 packets it holds stay held: every later word of the
call reaches the STT ~300 ms late (measured: whole WebRTC calls answered 250 ms slower than
the others). :class:`CatchUpJitterBuffer` gives up on a gap once ``HOLE_PACKETS`` packets
have arrived after it (60 ms) and then holds nothing: the receiver takes one frame per
arriving packet, so a backlog can only be caught up by dropping it, and the oldest held
frame is released, the rest dropped. A loss (or a packet arriving out of order, after the
one behind it) costs the audio it lost and a frame or two, never the rest of the call.

aiortc has no setting for it; the receiver's buffer is a private attribute (checked by
``tests/unit/server/test_webrtc_audio.py`` against the locked aiortc, so an upgrade that moves
it fails there, not silently).
"""

from __future__ import annotations

from aiortc import RTCPeerConnection
from aiortc.jitterbuffer import JitterBuffer, JitterFrame
from aiortc.rtp import RtpPacket
from aiortc.utils import uint16_add

#: Whole frames held back once a gap is behind (aiortc's default prefetch: 4): none.
INPUT_PREFETCH = 0
#: Packets that must arrive after a missing one before it is given up (60 ms).
HOLE_PACKETS = 3
_CAPACITY = 16  # aiortc's audio capacity, kept
_ATTRIBUTE = "_RTCRtpReceiver__jitter_buffer"


class CatchUpJitterBuffer(JitterBuffer):
    """aiortc's audio jitter buffer that skips a lost packet after ``HOLE_PACKETS`` and
    drops a backlog instead of keeping it (see the module's docstring)."""

    def add(self, packet: RtpPacket) -> tuple[bool, JitterFrame | None]:
        if self._origin is None or (packet.sequence_number == self._origin and not self._held()):
            # in order, nothing held: an audio packet is a whole frame, released on arrival
            self._origin = uint16_add(packet.sequence_number, 1)
            return False, _frame(packet)
        pli, frame = super().add(packet)
        if frame is None:
            frame = self._oldest() if self._slot(0) is not None else self._past_a_gap()
        whole = 0
        while whole < self._capacity and self._slot(whole) is not None:
            whole += 1
        if whole > self._prefetch:
            self.remove(whole - self._prefetch)  # a backlog: one frame per packet never clears it
        return pli, frame

    def _oldest(self) -> JitterFrame:
        """Release the frame at the origin (held: it arrived out of order)."""
        first = self._slot(0)
        assert first is not None
        self.remove(1)
        return _frame(first)

    def _past_a_gap(self) -> JitterFrame | None:
        """With ``HOLE_PACKETS`` packets past the missing one at the origin, give it up and
        release the oldest frame after it."""
        if self._held() < HOLE_PACKETS:
            return None  # it may still arrive, out of order
        skip = 0
        while self._slot(skip) is None:
            skip += 1
        self.remove(skip)
        return self._oldest()

    def _held(self) -> int:
        return self._capacity - self._packets.count(None)

    def _slot(self, offset: int) -> RtpPacket | None:
        assert self._origin is not None
        return self._packets[(self._origin + offset) % self._capacity]


def _frame(packet: RtpPacket) -> JitterFrame:
    """An audio packet as the frame it is (the receiver has set its depacketized payload)."""
    return JitterFrame(data=packet._data, timestamp=packet.timestamp)  # type: ignore[attr-defined]


def hear_sooner(pc: RTCPeerConnection) -> int:
    """Give ``pc``'s audio receivers a jitter buffer that releases each packet on arrival
    and catches up after a loss (before media flows); returns how many it changed."""
    changed = 0
    for transceiver in pc.getTransceivers():
        receiver = transceiver.receiver
        if transceiver.kind != "audio" or not hasattr(receiver, _ATTRIBUTE):
            continue
        current = getattr(receiver, _ATTRIBUTE)
        if isinstance(current, CatchUpJitterBuffer):
            continue
        setattr(receiver, _ATTRIBUTE, CatchUpJitterBuffer(capacity=_CAPACITY, prefetch=INPUT_PREFETCH))
        changed += 1
    return changed
