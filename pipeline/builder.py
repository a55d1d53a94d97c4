"""Builds the pipecat pipeline of one call from its ``CallSpec``.

    transport.input() → STT → [user aggregator] → caller audio ends → [user aggregator]
      → DTMF aggregator → AgentProcessor → TTS → transport.output() → agent audio ends
      → assistant aggregator

The user aggregator carries the Silero VAD and the user-turn strategies (pipecat 1.14's
turn API): Smart Turn v3 as the stop strategy by default, a plain speech timeout as an
option, or the STT's own end-of-turn (Deepgram Flux). The ONNX models behind VAD and Smart
Turn are loaded once per process (``pipeline.turn_models``). With the STT's own end of turn
there is no VAD at all: the provider says when the caller starts and stops, so the caller's
audio ends right after the STT and never reaches the aggregator.

Raw audio stops where its last user is (``pipeline.audio_ends``), which also feeds the
recorder: caller audio after turn detection, agent audio after the output transport.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from pipecat.audio.vad.vad_analyzer import VADParams
from pipecat.observers.user_bot_latency_observer import UserBotLatencyObserver
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.aggregators.dtmf_aggregator import DTMFAggregator
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.aggregators.llm_response_universal import (
    LLMContextAggregatorPair,
    LLMUserAggregatorParams,
)
from pipecat.processors.frame_processor import FrameProcessor
from pipecat.transports.base_transport import BaseTransport
from pipecat.turns.user_stop import SpeechTimeoutUserTurnStopStrategy
from pipecat.turns.user_turn_strategies import ExternalUserTurnStrategies, UserTurnStrategies

from pipeline.agent_processor import DTMF_PREFIX, AgentProcessor
from pipeline.audio_ends import AgentAudioEnd, CallerAudioEnd
from pipeline.barge_in import BackchannelFilterStartStrategy, NonInterruptibleNodeMuteStrategy
from pipeline.call_worker import CallWorker
from pipeline.events import CallEvent, CallEventSink
from pipeline.frame_plumbing import install as install_frame_plumbing
from pipeline.observers.call_observer import CallObserver
from pipeline.observers.latency import LatencyTracker
from pipeline.observers.transcript import TranscriptTracker
from pipeline.observers.usage import UsageTracker
from pipeline.providers import FailoverSwitcher, ProviderFailover, build_stt_stage, build_tts_stage
from pipeline.recording import CallRecorder
from pipeline.spec import CallSpec
from pipeline.tts_replay import TTSReplay
from pipeline.turn_models import EAGERNESS, SharedSileroVADAnalyzer, TurnTiming, smart_turn_stop_strategy
from pipeline.wait_for import install as install_wait_for
from runtime import tracing

install_wait_for()  # pipecat's per-frame wait_for: no task, no timer per wait (pipeline/wait_for.py)
# pipecat's push/process steps without unused hooks, trace lines and dropped observer records
install_frame_plumbing()


@dataclass
class BuiltCall:
    """The pipeline of one call and the pieces ``run_call`` needs to drive and report it."""

    pipeline: Pipeline
    worker: PipelineWorker
    agent: AgentProcessor
    observer: CallObserver
    transcript: TranscriptTracker
    latency: LatencyTracker
    usage: UsageTracker
    recorder: CallRecorder | None


def user_turn_strategies(spec: CallSpec) -> UserTurnStrategies:
    """The call's turn strategies from its spec (``settings.turn`` of the workflow)."""
    mode = spec.resolved_turn_detection()
    if mode == "provider":
        return ExternalUserTurnStrategies()
    # Turns start on voice activity only: a final transcript that arrives after the turn was
    # answered (segmenting STTs such as PocketSphinx do that) must not start a new turn and
    # interrupt the reply; it is kept for the next turn instead.
    # While the agent speaks, back-channels ("uh-huh", "okay") do not start a turn.
    start = [
        BackchannelFilterStartStrategy(
            filter_backchannels=spec.backchannel_filter, min_words=spec.interruption_min_words
        )
    ]
    if mode == "speech-timeout":
        return UserTurnStrategies(
            start=start,
            stop=[SpeechTimeoutUserTurnStopStrategy(user_speech_timeout=spec.speech_timeout_secs)],
        )
    timing = EAGERNESS[spec.turn_eagerness]
    if spec.turn_stop_secs is not None:
        timing = TurnTiming(
            confirm_secs=min(timing.confirm_secs, spec.turn_stop_secs), fallback_secs=spec.turn_stop_secs
        )
    return UserTurnStrategies(start=start, stop=[smart_turn_stop_strategy(timing)])


def build_call(spec: CallSpec, transport: BaseTransport, sink: CallEventSink) -> BuiltCall:
    """Assemble processors, observers and the worker for one call (no I/O, no network)."""

    replay = TTSReplay(name=f"tts-replay:{spec.call_id}")

    def on_failover(switch: ProviderFailover) -> None:
        if switch.kind == "tts":
            replay.tts_failed_over()  # the sentence that failed is spoken on the fallback
        sink.event(
            CallEvent(
                kind="failover",
                at=datetime.now(UTC),
                data={
                    "kind": switch.kind,
                    "from": switch.from_provider,
                    "to": switch.to_provider,
                    "reason": switch.reason,
                },
            )
        )

    stt: FrameProcessor = spec.stt_service or build_stt_stage(
        spec.providers,
        spec.credentials,
        sample_rate=spec.audio_in_sample_rate,
        on_failover=on_failover,
        vocabulary=spec.vocabulary,
    )
    tts: FrameProcessor = spec.tts_service or build_tts_stage(
        spec.providers,
        spec.credentials,
        sample_rate=spec.audio_out_sample_rate,
        on_failover=on_failover,
    )

    latency = LatencyTracker()
    usage = UsageTracker()
    transcript = TranscriptTracker(sink.turn, latency)
    observer = CallObserver(
        latency=latency,
        transcript=transcript,
        usage=usage,
        on_usage_changed=lambda: sink.usage(usage.records()),
    )

    agent = AgentProcessor(
        spec.agent,
        transcript=transcript,
        usage=usage,
        on_event=sink.event,
        greet=spec.greet,
        idle_prompts=spec.idle_prompts,
        tool_filler=spec.tool_filler,
        tool_filler_after_secs=spec.tool_filler_after_secs,
        name=f"agent:{spec.call_id}",
    )

    provider_turns = spec.resolved_turn_detection() == "provider"
    aggregators = LLMContextAggregatorPair(
        LLMContext(),
        user_params=LLMUserAggregatorParams(
            vad_analyzer=None
            if provider_turns
            else SharedSileroVADAnalyzer(params=VADParams(stop_secs=spec.vad_stop_secs)),
            user_turn_strategies=user_turn_strategies(spec),
            empty_user_turn=None,  # a cough or noise gets no answer
            user_idle_timeout=spec.user_idle_timeout_secs or 0,
            user_mute_strategies=[NonInterruptibleNodeMuteStrategy(agent)],
        ),
    )

    @aggregators.user().event_handler("on_user_turn_idle")
    async def _on_user_idle(_aggregator) -> None:
        await agent.caller_idle()

    recorder = (
        CallRecorder(spec.record_path, sample_rate=spec.audio_in_sample_rate)
        if spec.record_path
        else None
    )
    caller_audio_end = CallerAudioEnd(recorder, name="caller-audio-end")
    # Provider turns: nothing after the STT uses caller audio. VAD turns: the aggregator does.
    turn_stages = (
        [caller_audio_end, aggregators.user()]
        if provider_turns
        else [aggregators.user(), caller_audio_end]
    )

    processors: list[FrameProcessor] = [
        transport.input(),
        stt,
        *turn_stages,
        # Keypad digits (carrier serializers emit InputDTMFFrame) become one "DTMF: 123" user
        # turn after a pause or '#'; the first digit interrupts the bot like speech does.
        DTMFAggregator(timeout=spec.dtmf_timeout_secs, prefix=DTMF_PREFIX),
        agent,
        # With a TTS fallback, a ledger around the TTS replays what a failed provider lost.
        *([replay.before, tts, replay.after] if isinstance(tts, FailoverSwitcher) else [tts]),
        transport.output(),
        AgentAudioEnd(recorder, name="agent-audio-end"),
        aggregators.assistant(),
    ]
    pipeline = Pipeline(processors)
    observer.bind(user_aggregator=aggregators.user(), agent=agent, output=transport.output())

    user_bot = UserBotLatencyObserver()

    @user_bot.event_handler("on_latency_measured")
    async def _on_latency(_observer, seconds: float) -> None:
        latency.user_bot_latency(seconds)

    worker = CallWorker(
        pipeline,
        params=PipelineParams(
            audio_in_sample_rate=spec.audio_in_sample_rate,
            audio_out_sample_rate=spec.audio_out_sample_rate,
            # TTFB, processing-time and time-to-first-audio metrics feed only the tracing
            # spans: without tracing they are per-turn work nobody reads (the TTFA scan of
            # the first TTS audio sits between the TTS and the caller). Usage metrics (STT
            # seconds, TTS characters: billing) are separate and always on.
            enable_metrics=tracing.enabled(),
            enable_usage_metrics=True,
        ),
        observers=[observer, user_bot],
        idle_timeout_secs=spec.idle_timeout_secs,
        cancel_on_idle_timeout=True,
        # Tracing (runtime/tracing.py; off unless an OTLP endpoint is set): pipecat's turn
        # spans with its STT/TTS spans as children, under the call's span. Per turn and
        # service call, never per frame; off, no turn tracking observer at all.
        enable_tracing=tracing.enabled(),
        enable_turn_tracking=tracing.enabled(),
        name=f"call:{spec.call_id}",
        conversation_id=spec.call_id,
        # RTVI carries the live transcript to browser clients over the data channel.
        enable_rtvi=spec.channel == "webrtc",
    )
    return BuiltCall(
        pipeline=pipeline,
        worker=worker,
        agent=agent,
        observer=observer,
        transcript=transcript,
        latency=latency,
        usage=usage,
        recorder=recorder,
    )
