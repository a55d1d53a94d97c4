"""A workflow's ``settings.turn`` changes what the built pipeline does, not only its config:
the strategies ``pipeline.builder`` builds from it end turns and take interruptions
differently. Invalid settings are problems with pointers."""

from __future__ import annotations

from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    InterimTranscriptionFrame,
    VADUserStartedSpeakingFrame,
)
from pipecat.turns.user_turn_strategies import ExternalUserTurnStrategies, UserTurnStrategies

from pipeline.builder import user_turn_strategies
from pipeline.providers import ProviderSettings, STTChoice
from pipeline.spec import CallSpec
from runtime.templates import order_desk
from runtime.validation import validate_definition
from runtime.workflow import Workflow
from tests.unit.pipeline.turn_driver import ends_within, fix_verdict


class _Session:  # the agent is not used by the turn strategies
    pass


def _strategies(turn: dict, stt: str | None = None) -> UserTurnStrategies:
    definition = order_desk()
    definition["settings"] = {"turn": turn, **({"stt": {"provider": stt}} if stt else {})}
    workflow = Workflow.model_validate(definition)
    spec = CallSpec(
        call_id="c", organization_id="o", channel="webrtc", audio_in_sample_rate=16000,
        audio_out_sample_rate=16000, agent=_Session(),  # type: ignore[arg-type]
        providers=ProviderSettings(stt=STTChoice(provider=stt or "offline")),  # type: ignore[arg-type]
    )
    spec.apply_turn_settings(workflow.settings.turn)
    return user_turn_strategies(spec)


async def test_eagerness_decides_how_soon_a_doubted_answer_ends_the_turn():
    eager = _strategies({"eagerness": "high"}).stop[0]
    patient = _strategies({"eagerness": "low"}).stop[0]
    for stop in (eager, patient):
        fix_verdict(stop, complete=False)  # Smart Turn doubts "Yes please."
    assert await ends_within(eager, "Yes please.", 0.5)  # high: 0.15 s of silence
    assert not await ends_within(patient, "Yes please.", 0.5)  # low: 0.8 s


async def test_stop_timeout_is_the_fallback_for_smart_turn_and_the_timeout_otherwise():
    short = _strategies({"stop_timeout_seconds": 0.3}).stop[0]
    default = _strategies({}).stop[0]
    for stop in (short, default):
        fix_verdict(stop, complete=True)  # "...is" announces more: only the fallback ends it
    assert await ends_within(short, "My order number is", 1.0)
    assert not await ends_within(default, "My order number is", 1.0)  # normal: 1.3 s

    quick = _strategies({"strategy": "speech-timeout", "stop_timeout_seconds": 0.2}).stop[0]
    slow = _strategies({"strategy": "speech-timeout", "stop_timeout_seconds": 3}).stop[0]
    assert await ends_within(quick, "My order number is", 1.5)
    assert not await ends_within(slow, "My order number is", 1.5)


async def test_the_provider_strategy_leaves_the_turn_to_a_flux_stt():
    assert isinstance(_strategies({"strategy": "provider"}, stt="deepgram-flux"),
                      ExternalUserTurnStrategies)
    assert isinstance(_strategies({}, stt="deepgram-flux"), ExternalUserTurnStrategies)


async def _interrupts(turn: dict, *said: str) -> bool:
    start = _strategies(turn).start[0]
    started: list[bool] = []

    @start.event_handler("on_user_turn_started")
    async def _started(_strategy, _params) -> None:
        started.append(True)

    await start.process_frame(BotStartedSpeakingFrame())
    await start.process_frame(VADUserStartedSpeakingFrame())
    for text in said:
        await start.process_frame(InterimTranscriptionFrame(text, "caller", "2026-01-01T00:00:00Z"))
    return bool(started)


async def test_interruption_settings_decide_what_stops_the_agent():
    assert not await _interrupts({}, "uh-huh")
    assert await _interrupts({}, "wait")
    assert await _interrupts({"interruption": {"backchannel_filter": False}}, "uh-huh")
    assert not await _interrupts({"interruption": {"min_words": 2}}, "wait")
    assert await _interrupts({"interruption": {"min_words": 2}}, "wait", "wait no")


def _problems(settings: dict) -> set[tuple[str, str]]:
    definition = order_desk()
    definition["settings"] = settings
    return {(p.pointer, p.code) for p in validate_definition(definition)}


def test_bad_turn_settings_are_problems_naming_the_field():
    assert _problems({"turn": {"strategy": "provider"}}) == {
        ("/settings/turn/strategy", "turn_strategy_unsupported")}
    assert _problems({"turn": {"strategy": "provider", "stop_timeout_seconds": 1},
                      "stt": {"provider": "deepgram-flux"}}) == {
        ("/settings/turn/stop_timeout_seconds", "timeout_unused")}
    assert _problems({"turn": {"strategy": "provider"}, "stt": {"provider": "deepgram-flux"}}) == set()
    assert _problems({"turn": {"eagerness": "eager"}}) == {
        ("/settings/turn/eagerness", "invalid_literal_error")}
    assert _problems({"turn": {"stop_timeout_seconds": 0}}) == {
        ("/settings/turn/stop_timeout_seconds", "invalid_greater_than")}
    assert _problems({"turn": {"interruption": {"min_words": 9}}}) == {
        ("/settings/turn/interruption/min_words", "invalid_less_than_equal")}
    assert _problems({"tool_filler": "  "}) == {("/settings/tool_filler", "blank_filler")}
    assert _problems({"tool_filler": None, "turn": {"strategy": "speech-timeout"}}) == set()
