"""The caller's audio over WebRTC reaches the pipeline one packet after it arrives.

aiortc gives every audio receiver a jitter buffer that releases a 20 ms frame only once the
four packets after it have arrived (``JitterBuffer(capacity=16, prefetch=4)``): 80 ms
between the caller's voice reaching the server and the STT hearing it, on every frame, on
every call. That holding back is for smooth playout; a server does not play the caller's
audio, it recognises it, and a packet arriving a little late is only heard a little late.
With a prefetch of 1 a frame is released as soon as the next packet shows it is whole (its
minimum), so end of turn is heard ~60 ms sooner.

aiortc's buffer also never catches up after a lost packet: the gap holds everything back
until the 16 slots are full, it then drops just enough to fit and goes on releasing one
frame per arriving packet, so the ~15 packets it holds stay held: every later word of the
call reaches the STT ~300 ms late (measured: whole WebRTC calls answered 250 ms slower than
the others). :class:`CatchUpJitterBuffer` gives up on a gap once ``HOLE_PACKETS`` packets
have arrived after it (60 ms) and never holds more than ``prefetch`` whole packets, the
oldest dropped: a loss costs the audio it lost and a few frames, never the rest of the call.

aiortc has no setting for it; the receiver's buffer is a private attribute (checked by
``tests/unit/server/test_webrtc_audio.py`` against the locked aiortc, so an upgrade that moves
it fails there, not silently).
"""

from __future__ import annotations

from aiortc import RTCPeerConnection
from aiortc.jitterbuffer import JitterBuffer, JitterFrame
from aiortc.rtp import RtpPacket

#: Packets after a frame that must have arrived before it is released (aiortc's default: 4).
INPUT_PREFETCH = 1
#: Packets that must arrive after a missing one before it is given up (60 ms).
HOLE_PACKETS = 3
_CAPACITY = 16  # aiortc's audio capacity, kept
_ATTRIBUTE = "_RTCRtpReceiver__jitter_buffer"


class CatchUpJitterBuffer(JitterBuffer):
    """aiortc's audio jitter buffer that skips a lost packet after ``HOLE_PACKETS`` and
    drops a backlog instead of keeping it (see the module's docstring)."""

    def add(self, packet: RtpPacket) -> tuple[bool, JitterFrame | None]:
        pli, frame = super().add(packet)
        if self._origin is None:
            return pli, frame
        if frame is None:
            frame = self._past_a_gap()
        whole = 0
        while whole < self._capacity and self._slot(whole) is not None:
            whole += 1
        if whole > self._prefetch:
            self.remove(whole - self._prefetch)  # a backlog: the oldest frames go
        return pli, frame

    def _past_a_gap(self) -> JitterFrame | None:
        """With ``HOLE_PACKETS`` packets past a missing one, give that one up: release the
        frame before it (an audio packet is a whole frame) and go on after it."""
        present = self._present()
        if len(present) <= HOLE_PACKETS or present[-1] == len(present) - 1:  # contiguous
            return None  # no gap, or not enough past it yet
        first = self._slot(0)
        released = None
        if first is not None:
            released = JitterFrame(data=first._data, timestamp=first.timestamp)  # type: ignore[attr-defined]
            self.remove(1)
        skip = 0
        while self._slot(skip) is None:
            skip += 1
        self.remove(skip)
        return released

    def _slot(self, offset: int) -> RtpPacket | None:
        assert self._origin is not None
        return self._packets[(self._origin + offset) % self._capacity]

    def _present(self) -> list[int]:
        return [i for i in range(self._capacity) if self._slot(i) is not None]


def hear_sooner(pc: RTCPeerConnection, prefetch: int = INPUT_PREFETCH) -> int:
    """Give ``pc``'s audio receivers a short jitter buffer that catches up after a loss
    (before media flows); returns how many it changed."""
    changed = 0
    for transceiver in pc.getTransceivers():
        receiver = transceiver.receiver
        if transceiver.kind != "audio" or not hasattr(receiver, _ATTRIBUTE):
            continue
        current = getattr(receiver, _ATTRIBUTE)
        if isinstance(current, CatchUpJitterBuffer):
            continue
        setattr(receiver, _ATTRIBUTE, CatchUpJitterBuffer(capacity=_CAPACITY, prefetch=prefetch))
        changed += 1
    return changed
