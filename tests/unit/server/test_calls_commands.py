"""Call commands: one union through one adapter (what crosses the control bus), and one
dispatcher turning each into the target's action."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from db.calls import CallStatus
from pipeline.events import EndReason
from server.calls.commands import (
    COMMANDS,
    CarrierEnded,
    HangUp,
    LeaveVoicemail,
    SendDtmf,
    Transfer,
    dispatch,
)
from server.calls.control import check_supported
from telephony.contract import UnsupportedOperation
from telephony.registry import CARRIERS


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, object]] = []

    async def hang_up(self, reason: EndReason) -> None:
        self.calls.append(("hang_up", reason))

    async def transfer(self, to: str) -> None:
        self.calls.append(("transfer", to))

    async def send_dtmf(self, digits: str) -> None:
        self.calls.append(("send_dtmf", digits))

    async def leave_voicemail(self, text: str) -> None:
        self.calls.append(("leave_voicemail", text))

    async def carrier_ended(self, status: CallStatus) -> None:
        self.calls.append(("carrier_ended", status))


ALL = [
    HangUp(), HangUp(reason=EndReason.VOICEMAIL), Transfer(to="+14155550100"),
    Transfer(to="sip:desk@example.com", source="agent"), SendDtmf(digits="12#"),
    LeaveVoicemail(text="Please call back."), CarrierEnded(status=CallStatus.BUSY),
]  # fmt: skip


@pytest.mark.parametrize("command", ALL)
def test_every_command_round_trips_through_the_bus_adapter(command) -> None:
    assert COMMANDS.validate_json(COMMANDS.dump_json(command)) == command


@pytest.mark.parametrize("raw", [
    b'{"type": "explode"}', b'{"type": "transfer"}', b'{"type": "dtmf", "digits": ""}',
    b'{"type": "hangup", "reason": "because"}', b'{"type": "hangup", "extra": 1}', b"[]",
])  # fmt: skip
def test_anything_else_is_refused(raw: bytes) -> None:
    with pytest.raises(ValidationError):
        COMMANDS.validate_json(raw)


async def test_the_dispatcher_runs_each_command_on_its_target() -> None:
    target = Recorder()
    for command in ALL:
        await dispatch(command, target)
    assert target.calls == [
        ("hang_up", EndReason.ENDED_BY_API), ("hang_up", EndReason.VOICEMAIL),
        ("transfer", "+14155550100"), ("transfer", "sip:desk@example.com"),
        ("send_dtmf", "12#"), ("leave_voicemail", "Please call back."),
        ("carrier_ended", CallStatus.BUSY),
    ]  # fmt: skip


def test_what_a_carrier_cannot_do_is_refused_up_front() -> None:
    transfer = Transfer(to="+14155550100")
    able = [name for name, cls in CARRIERS.items() if "transfer" in cls.capabilities]
    unable = [name for name, cls in CARRIERS.items() if "transfer" not in cls.capabilities]
    assert able and unable  # the table has both kinds
    for name in able:
        check_supported(CARRIERS[name]({}), transfer)
    for name in unable:
        with pytest.raises(UnsupportedOperation):
            check_supported(CARRIERS[name]({}), transfer)
    with pytest.raises(UnsupportedOperation):  # a browser call has no line
        check_supported(None, SendDtmf(digits="1"))
    check_supported(None, HangUp())
