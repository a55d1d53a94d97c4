"""Turn decisions: back-channels do not interrupt the agent, short answers are not left
waiting for Smart Turn's fallback."""

from __future__ import annotations

from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    InterimTranscriptionFrame,
    TranscriptionFrame,
    VADUserStartedSpeakingFrame,
)

from pipeline.barge_in import BackchannelFilterStartStrategy, is_backchannel
from pipeline.turn_models import complete_short_answer


def test_backchannels_are_recognised():
    for said in ("Uh-huh.", "Mm-hmm", "okay", "Okay, right.", "yeah", "got it"):
        assert is_backchannel(said), said
    for said in ("wait", "Wait, no, that's wrong", "okay stop", "no", ""):
        assert not is_backchannel(said), said


def test_complete_short_answers():
    for said in ("Yes.", "No thanks", "Tuesday", "4471", "four four seven one", "Maria Gonzalez"):
        assert complete_short_answer(said), said
    for said in (
        "My order number is",
        "um",
        "I'd like to",
        "I was wondering if",
        "",
        "I would like to book a table for two tonight please",
    ):
        assert not complete_short_answer(said), said


class _Turns:
    def __init__(self) -> None:
        self.strategy = BackchannelFilterStartStrategy()
        self.started = 0
        self.resets = 0

        @self.strategy.event_handler("on_user_turn_started")
        async def _started(_strategy, _params) -> None:
            self.started += 1

        @self.strategy.event_handler("on_reset_aggregation")
        async def _reset(_strategy) -> None:
            self.resets += 1

    async def feed(self, *frames) -> None:
        for frame in frames:
            await self.strategy.process_frame(frame)


def _final(text: str) -> TranscriptionFrame:
    return TranscriptionFrame(text, "caller", "2026-01-01T00:00:00Z", finalized=True)


def _interim(text: str) -> InterimTranscriptionFrame:
    return InterimTranscriptionFrame(text, "caller", "2026-01-01T00:00:00Z")


async def test_voice_starts_a_turn_while_the_agent_is_silent():
    turns = _Turns()
    await turns.feed(VADUserStartedSpeakingFrame())
    assert turns.started == 1


async def test_uh_huh_over_the_agent_does_not_interrupt_but_wait_no_does():
    turns = _Turns()
    await turns.feed(
        BotStartedSpeakingFrame(), VADUserStartedSpeakingFrame(), _interim("uh huh"), _final("uh-huh")
    )
    assert turns.started == 0
    assert turns.resets == 1  # "uh-huh" is not kept for the caller's next turn
    await turns.feed(VADUserStartedSpeakingFrame(), _interim("okay"), _interim("okay wait"))
    assert turns.started == 1


async def test_a_late_transcript_of_an_earlier_utterance_starts_no_turn():
    turns = _Turns()
    await turns.feed(BotStartedSpeakingFrame(), _final("my order number is four"), BotStoppedSpeakingFrame())
    assert turns.started == 0


async def _stop_strategy_ends_turn(strategy_cls, transcript: str) -> bool:
    """Feed "Yes please." through a Smart Turn stop strategy whose model judges it
    incomplete (Smart Turn v3 does for some espeak renderings; the verdict is fixed here so
    the test does not depend on espeak's output), then the final transcript; whether the
    turn ended."""
    import asyncio

    from pipecat.frames.frames import InputAudioRawFrame, VADUserStoppedSpeakingFrame
    from pipecat.processors.frame_processor import FrameProcessorSetup
    from pipecat.utils.asyncio.task_manager import TaskManager

    from loadgen.audio import frames, silence_pcm
    from loadgen.speech import speech_pcm
    from pipeline.turn_models import SharedSmartTurnAnalyzer

    class IncompleteVerdict(SharedSmartTurnAnalyzer):
        def _predict_endpoint(self, audio_array):  # type: ignore[no-untyped-def]
            return {"prediction": 0, "probability": 0.2}

    strategy = strategy_cls(turn_analyzer=IncompleteVerdict())
    await strategy.setup(
        FrameProcessorSetup(
            clock=None,
            task_manager=TaskManager(loop=asyncio.get_running_loop()),  # type: ignore[arg-type]
            pipeline_worker=None,
            audio_in_sample_rate=16000,
        )
    )  # type: ignore[arg-type]
    ended = asyncio.Event()

    @strategy.event_handler("on_user_turn_stopped")
    async def _stopped(_strategy, *_args) -> None:
        ended.set()

    speech = speech_pcm("Yes please.", 16000, voice="en-us+f2")
    await strategy.process_frame(VADUserStartedSpeakingFrame(start_secs=0.2))
    for chunk in frames(speech, 16000):
        await strategy.process_frame(InputAudioRawFrame(chunk, 16000, 1))
    for chunk in frames(silence_pcm(0.2, 16000), 16000):  # the VAD's stop_secs; no fallback
        await strategy.process_frame(InputAudioRawFrame(chunk, 16000, 1))
    await strategy.process_frame(VADUserStoppedSpeakingFrame(stop_secs=0.2))
    await strategy.process_frame(_final(transcript))
    try:
        await asyncio.wait_for(ended.wait(), 1.0)
        return True
    except TimeoutError:
        return False
    finally:
        await strategy.cleanup()


async def test_a_short_complete_answer_ends_the_turn_on_its_transcript():
    from pipecat.turns.user_stop import TurnAnalyzerUserTurnStopStrategy

    from pipeline.turn_models import ConfirmingSmartTurnStopStrategy

    # Plain Smart Turn leaves "Yes please." waiting for its silence fallback...
    assert not await _stop_strategy_ends_turn(TurnAnalyzerUserTurnStopStrategy, "Yes please.")
    # ...the confirming strategy ends it on the final transcript...
    assert await _stop_strategy_ends_turn(ConfirmingSmartTurnStopStrategy, "Yes please.")
    # ...but not when the transcript announces more.
    assert not await _stop_strategy_ends_turn(ConfirmingSmartTurnStopStrategy, "My order is")
