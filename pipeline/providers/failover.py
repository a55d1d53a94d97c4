"""Provider failover inside a live call.

``FailoverSwitcher`` is pipecat's ``ServiceSwitcher`` holding a primary service and its
fallbacks. Any error the active service reports mid-call (a dropped websocket, an HTTP 500,
a rejected key; fatal or not) moves the call to the next service in order, once and
forward only, so a flapping provider cannot bounce the call back and forth. Each switch is
reported to an ``on_failover`` callback as a ``ProviderFailover`` so the call can record
it; the callback runs on the error path, never per audio frame.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from loguru import logger
from pipecat.frames.frames import CancelFrame, EndFrame, ErrorFrame, Frame
from pipecat.pipeline.service_switcher import ServiceSwitcher, ServiceSwitcherStrategyManual
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

ServiceKind = Literal["stt", "tts"]


@dataclass(frozen=True, slots=True)
class ProviderFailover:
    """A call moved from one provider to another because the first one failed."""

    kind: ServiceKind
    from_provider: str
    to_provider: str
    reason: str


FailoverHandler = Callable[[ProviderFailover], Awaitable[None] | None]


class FailoverOnErrorStrategy(ServiceSwitcherStrategyManual):
    """Switch forward to the next service on any error from the active one.

    Unlike pipecat's ``ServiceSwitcherStrategyFailover`` (which only moves off a service
    that declared itself unusable), a provider that errors mid-call is abandoned at once:
    for a caller on the line a working fallback beats a provider retrying in the
    background. Manual switches (``ManuallySwitchServiceFrame``) still work.
    """

    def __init__(self, services: list[FrameProcessor]):
        super().__init__(services)
        self.kind: ServiceKind = "stt"
        self.labels: dict[int, str] = {id(s): s.name for s in services}
        self.on_failover: FailoverHandler | None = None
        self.failovers: list[ProviderFailover] = []
        self.closing = False  # set once the call ends: teardown errors are not failures

    def label(self, service: FrameProcessor) -> str:
        return self.labels.get(id(service), service.name)

    async def handle_error(self, error: ErrorFrame) -> FrameProcessor | None:
        failed = error.processor or self.active_service
        if self.closing or failed is not self.active_service:
            return None
        index = self.services.index(failed)
        for candidate in self.services[index + 1 :]:
            if not candidate.is_usable:
                continue
            switched = await self._set_active_if_available(candidate)
            if switched is None:
                continue
            event = ProviderFailover(
                kind=self.kind,
                from_provider=self.label(failed),
                to_provider=self.label(switched),
                reason=error.error,
            )
            self.failovers.append(event)
            logger.warning(
                f"{self.kind} failover {event.from_provider} -> {event.to_provider}: "
                f"{event.reason}"
            )
            if self.on_failover is not None:
                result = self.on_failover(event)
                if inspect.isawaitable(result):
                    await result
            return switched
        return None


class FailoverSwitcher(ServiceSwitcher[FailoverOnErrorStrategy]):
    """A primary service with fallbacks, switching on the active one's errors."""

    def __init__(
        self,
        services: Sequence[FrameProcessor],
        *,
        kind: ServiceKind,
        labels: Sequence[str],
        on_failover: FailoverHandler | None = None,
    ):
        if len(labels) != len(services):
            raise ValueError("one label per service")
        super().__init__(list(services), strategy_type=FailoverOnErrorStrategy)
        self.strategy.kind = kind
        self.strategy.labels = {id(s): label for s, label in zip(services, labels, strict=True)}
        self.strategy.on_failover = on_failover

    @property
    def active_provider(self) -> str:
        """The label of the provider currently doing the work."""
        return self.strategy.label(self.strategy.active_service)

    @property
    def failovers(self) -> list[ProviderFailover]:
        """Every switch made so far, in order."""
        return self.strategy.failovers

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        if isinstance(frame, (EndFrame, CancelFrame)):
            self.strategy.closing = True
        await super().process_frame(frame, direction)

    async def push_frame(self, frame: Frame, direction: FrameDirection = FrameDirection.DOWNSTREAM):
        # pipecat hands only non-fatal errors to the strategy; a (deprecated) fatal error
        # from the active service would end the call even though a fallback is waiting.
        if (
            isinstance(frame, ErrorFrame)
            and frame.fatal
            and frame.processor is self.strategy.active_service
            and await self.strategy.handle_error(frame)
        ):
            return
        await super().push_frame(frame, direction)
