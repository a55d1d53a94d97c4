"""Call statuses: defined once, ranked so status callbacks never move a call backwards
(nor revive an ended one); end reasons spelled once."""

from __future__ import annotations

import pytest

from db.calls import TERMINAL_STATUSES, CallStatus
from pipeline.events import EndReason
from server.calls.phone.status import moves_forward

LIVE = [CallStatus.QUEUED, CallStatus.RINGING, CallStatus.IN_PROGRESS]


@pytest.mark.parametrize("current", LIVE)
@pytest.mark.parametrize("new", LIVE)
def test_progress_only_moves_forward(current: CallStatus, new: CallStatus) -> None:
    assert moves_forward(current, new) == (LIVE.index(new) > LIVE.index(current))


@pytest.mark.parametrize("ended", sorted(TERMINAL_STATUSES))
@pytest.mark.parametrize("new", LIVE)
def test_an_ended_call_never_moves_again(ended: CallStatus, new: CallStatus) -> None:
    assert ended.terminal and not moves_forward(ended, new)


def test_terminal_statuses_and_spelling() -> None:
    assert {s for s in CallStatus if s.terminal} == TERMINAL_STATUSES
    assert not any(s.terminal for s in LIVE)
    assert CallStatus("canceled") is CallStatus.CANCELED
    with pytest.raises(ValueError):
        CallStatus("cancelled")
    assert "cancelled" not in {r.value for r in EndReason}
    # a final carrier status is also how the call ended
    for status in TERMINAL_STATUSES:
        assert EndReason.of(status, EndReason.ERROR) == status.value
    assert EndReason.of("no-such-reason", EndReason.COMPLETED) is EndReason.COMPLETED
