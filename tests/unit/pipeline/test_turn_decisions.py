"""Turn decisions: back-channels do not interrupt the agent, complete answers are not left
waiting for Smart Turn's fallback, words that announce more hold the turn."""

from __future__ import annotations

from pipecat.audio.turn.smart_turn.base_smart_turn import SmartTurnParams
from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    InterimTranscriptionFrame,
    TranscriptionFrame,
    VADUserStartedSpeakingFrame,
)

from pipeline.barge_in import BackchannelFilterStartStrategy, is_backchannel
from pipeline.turn_models import (
    EAGERNESS,
    TurnTiming,
    announces_more,
    complete_short_answer,
    reads_complete,
    stop_delay,
)
from tests.unit.pipeline.turn_driver import ends_within, fix_verdict


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


def test_transcripts_that_announce_more_and_complete_ones_of_any_length():
    for said in ("My order number is", "I was wondering if", "Um, let me think", "I'd like to",
                 "and", "for the", "I want to book, "):
        assert announces_more(said) and not reads_complete(said), said
    for said in ("Yes.", "Tuesday", "four four seven one",
                 "I have a question about a charge on my bill from last month."):
        assert reads_complete(said) and not announces_more(said), said
    assert not reads_complete("") and not announces_more("")


def test_stop_delay_uses_the_transcript_both_ways():
    timing = TurnTiming(confirm_secs=0.3, fallback_secs=1.3)
    # Smart Turn says complete, but the words announce more: wait for the fallback.
    assert stop_delay(True, "My order number is", timing) == 1.3
    # Smart Turn says incomplete, but the words read complete: a short confirm.
    assert stop_delay(False, "I would like to book a table for two.", timing) == 0.3
    assert stop_delay(True, "Yes.", timing) == 0.0
    assert stop_delay(False, "", timing) == 1.3
    low, normal, high = EAGERNESS["low"], EAGERNESS["normal"], EAGERNESS["high"]
    assert low.confirm_secs > normal.confirm_secs > high.confirm_secs
    assert low.fallback_secs > normal.fallback_secs > high.fallback_secs


class _Turns:
    def __init__(self, **kwargs) -> None:
        self.strategy = BackchannelFilterStartStrategy(**kwargs)
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


async def test_an_interim_with_a_real_word_interrupts_before_the_vad_confirms_speech():
    turns = _Turns()
    await turns.feed(BotStartedSpeakingFrame(), _interim("okay"))
    assert turns.started == 0
    await turns.feed(_interim("wait"))  # no VADUserStartedSpeakingFrame yet (soft onset)
    assert turns.started == 1


async def test_min_words_and_the_filter_switch():
    turns = _Turns(min_words=2)
    await turns.feed(BotStartedSpeakingFrame(), _interim("wait"))
    assert turns.started == 0
    await turns.feed(_interim("wait no"))
    assert turns.started == 1
    unfiltered = _Turns(filter_backchannels=False)
    await unfiltered.feed(BotStartedSpeakingFrame(), VADUserStartedSpeakingFrame())
    assert unfiltered.started == 1  # any voice over the agent interrupts


async def test_a_late_transcript_of_an_earlier_utterance_starts_no_turn():
    turns = _Turns()
    await turns.feed(BotStartedSpeakingFrame(), _final("my order number is four"), BotStoppedSpeakingFrame())
    assert turns.started == 0


async def test_a_complete_answer_ends_the_turn_on_its_transcript_after_a_short_confirm():
    from pipecat.turns.user_stop import TurnAnalyzerUserTurnStopStrategy

    from pipeline.turn_models import ConfirmingSmartTurnStopStrategy, SharedSmartTurnAnalyzer

    def smart_turn(stop_secs: float) -> SharedSmartTurnAnalyzer:
        return SharedSmartTurnAnalyzer(params=SmartTurnParams(stop_secs=stop_secs))

    timing = TurnTiming(confirm_secs=0.1, fallback_secs=5.0)
    # Plain Smart Turn leaves "Yes please." (judged incomplete) waiting for its fallback...
    plain = TurnAnalyzerUserTurnStopStrategy(turn_analyzer=smart_turn(5.0))
    fix_verdict(plain, complete=False)
    assert not await ends_within(plain, "Yes please.", 1.0)
    # ...the confirming strategy ends it once the caller stayed silent for the confirm...
    confirming = ConfirmingSmartTurnStopStrategy(turn_analyzer=smart_turn(5.0), timing=timing)
    fix_verdict(confirming, complete=False)
    assert await ends_within(confirming, "Yes please.", 1.0)
    # ...unless the caller speaks again first.
    resumed = ConfirmingSmartTurnStopStrategy(
        turn_analyzer=smart_turn(5.0), timing=TurnTiming(confirm_secs=0.4, fallback_secs=5.0)
    )
    fix_verdict(resumed, complete=False)
    assert not await ends_within(resumed, "Yes please.", 1.0, resume_after=0.1)


async def test_words_that_announce_more_hold_the_turn_smart_turn_called_complete():
    from pipeline.turn_models import ConfirmingSmartTurnStopStrategy, SharedSmartTurnAnalyzer

    timing = TurnTiming(confirm_secs=0.1, fallback_secs=0.8)
    held = ConfirmingSmartTurnStopStrategy(
        turn_analyzer=SharedSmartTurnAnalyzer(params=SmartTurnParams(stop_secs=0.8)), timing=timing
    )
    fix_verdict(held, complete=True)
    assert not await ends_within(held, "My order number is", 0.4)
    fallback = ConfirmingSmartTurnStopStrategy(
        turn_analyzer=SharedSmartTurnAnalyzer(params=SmartTurnParams(stop_secs=0.8)), timing=timing
    )
    fix_verdict(fallback, complete=True)
    assert await ends_within(fallback, "My order number is", 3.0)  # after the fallback
