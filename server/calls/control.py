"""Call control from anywhere: a command goes over the control bus to the instance that
holds the call's media; when none does, the carrier's REST API acts on the call's leg
directly (it works from any instance)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from db.calls import CallStatus
from db.carriers import CarrierCall
from pipeline.events import EndReason
from server.calls.commands import CallCommand, dispatch
from server.calls.phone.carriers import provider_for
from telephony.contract import Capability, CarrierProvider, UnsupportedOperation

if TYPE_CHECKING:
    from server.services import Services

Delivered = Literal["live", "carrier"]


class CallEnded(Exception):
    """The call is over: there is nothing left to control."""


def check_supported(provider: CarrierProvider | None, command: CallCommand) -> None:
    """Refuse up front what the call's carrier cannot do (a browser call has no carrier:
    only hang-up reaches it)."""
    needs = {"transfer": Capability.TRANSFER}.get(command.type)
    if provider is None and command.type in ("transfer", "dtmf"):
        raise UnsupportedOperation("a browser call has no phone line")
    if provider is not None and needs is not None and needs not in provider.capabilities:
        raise UnsupportedOperation(f"{provider.name} does not support {needs.value}")


async def deliver(services: Services, call: CarrierCall, command: CallCommand) -> Delivered:
    """Deliver ``command`` to ``call``: "live" when an instance holding it acted, "carrier"
    when its carrier's REST API did. Raises ``CallEnded``, ``UnsupportedOperation``, or the
    carrier's error."""
    if call.ended:
        raise CallEnded()
    provider = provider_for(services, call.carrier, call.credentials) if call.carrier else None
    check_supported(provider, command)
    if await services.bus.publish(str(call.id), command) > 0:
        return "live"
    if provider is None or not call.carrier_call_id:
        raise UnsupportedOperation("the call is not live on any instance and has no carrier leg")
    await dispatch(command, CarrierLeg(provider, call.carrier_call_id))
    return "carrier"


class CarrierLeg:
    """The ``CallTarget`` of a call's carrier leg alone, through the carrier's REST API."""

    def __init__(self, provider: CarrierProvider, carrier_call_id: str) -> None:
        self.provider = provider
        self.carrier_call_id = carrier_call_id

    def _require(self, capability: Capability) -> None:
        if capability not in self.provider.capabilities:
            raise UnsupportedOperation(f"{self.provider.name} does not support {capability.value}")

    async def hang_up(self, reason: EndReason) -> None:
        self._require(Capability.REST_HANGUP)
        await self.provider.hangup(self.carrier_call_id)

    async def transfer(self, to: str) -> None:
        self._require(Capability.TRANSFER)
        await self.provider.transfer(self.carrier_call_id, to)

    async def send_dtmf(self, digits: str) -> None:
        self._require(Capability.SEND_DTMF)
        await self.provider.send_dtmf(self.carrier_call_id, digits)

    async def leave_voicemail(self, text: str) -> None:
        self._require(Capability.LEAVE_MESSAGE)
        await self.provider.leave_message(self.carrier_call_id, text)

    async def carrier_ended(self, status: CallStatus) -> None:
        """The carrier already ended the call: nothing to do on its leg."""
