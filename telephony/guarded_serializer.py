"""A serializer wrapper that keeps hostile or broken media messages off the pipeline.

Oversized messages are dropped before parsing; a message the carrier's serializer cannot
parse (bad JSON, bad base64) is dropped instead of ending the call (pipecat's websocket
transport stops reading on the first exception). Only a counter is kept: no logging or
allocation on the per-frame path.
"""

from __future__ import annotations

from pipecat.frames.frames import Frame
from pipecat.processors.frame_processor import FrameProcessorSetup
from pipecat.serializers.base_serializer import FrameSerializer

MAX_MEDIA_MESSAGE_BYTES = 64 * 1024


class GuardedSerializer(FrameSerializer):
    def __init__(self, inner: FrameSerializer, max_bytes: int = MAX_MEDIA_MESSAGE_BYTES):
        super().__init__()
        self.inner = inner
        self.max_bytes = max_bytes
        self.dropped = 0

    async def setup(self, setup: FrameProcessorSetup) -> None:
        await self.inner.setup(setup)

    async def serialize(self, frame: Frame) -> str | bytes | None:
        return await self.inner.serialize(frame)

    async def deserialize(self, data: str | bytes) -> Frame | None:
        if len(data) > self.max_bytes:
            self.dropped += 1
            return None
        try:
            return await self.inner.deserialize(data)
        except Exception:
            self.dropped += 1
            return None
