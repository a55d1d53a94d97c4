"""A workflow's settings.turn and tool_filler reach the call the server builds: the stop
and start strategies of the pipeline built from ``build_spec`` behave as the settings say."""

from __future__ import annotations

import uuid

from pipecat.frames.frames import BotStartedSpeakingFrame, VADUserStartedSpeakingFrame

from pipeline.builder import user_turn_strategies
from runtime.templates import order_desk
from server.calls.admission import CallHandle
from server.calls.setup import build_spec
from tests.unit.pipeline.turn_driver import ends_within


async def _spec(server, user, settings: dict):
    definition = order_desk()
    definition["settings"] = settings
    handle = CallHandle(
        call_id=uuid.uuid4(), organization_id=uuid.UUID(user.organization_id), workflow_id=None,
        workflow_version=None, channel="webrtc", direction="inbound", test=True, variables={},
        definition=definition, record=False,
    )
    return await build_spec(server.services, handle, audio_in_sample_rate=16000,
                            audio_out_sample_rate=16000)


async def test_workflow_turn_settings_change_the_calls_turn_taking(server, make_user):
    user = await make_user()
    quick = await _spec(server, user, {"turn": {"strategy": "speech-timeout",
                                                "stop_timeout_seconds": 0.2}})
    slow = await _spec(server, user, {"turn": {"strategy": "speech-timeout",
                                               "stop_timeout_seconds": 3}})
    assert await ends_within(user_turn_strategies(quick).stop[0], "My order number is", 1.5)
    assert not await ends_within(user_turn_strategies(slow).stop[0], "My order number is", 1.5)

    unfiltered = await _spec(server, user, {"turn": {"interruption": {"backchannel_filter": False}},
                                            "tool_filler": None})
    start = user_turn_strategies(unfiltered).start[0]
    started: list[bool] = []

    @start.event_handler("on_user_turn_started")
    async def _started(_strategy, _params) -> None:
        started.append(True)

    await start.process_frame(BotStartedSpeakingFrame())
    await start.process_frame(VADUserStartedSpeakingFrame())
    assert started  # any voice over the agent interrupts with the filter off
    assert unfiltered.tool_filler is None
    assert quick.tool_filler == "One moment."  # the default
