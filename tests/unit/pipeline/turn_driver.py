"""Drives a user-turn stop strategy through one utterance, as the user aggregator would."""

from __future__ import annotations

import asyncio

from pipecat.frames.frames import (
    InputAudioRawFrame,
    TranscriptionFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.processors.frame_processor import FrameProcessorSetup
from pipecat.turns.user_stop import BaseUserTurnStopStrategy
from pipecat.utils.asyncio.task_manager import TaskManager

from loadgen.audio import frames, silence_pcm
from loadgen.speech import speech_pcm

RATE = 16000


def fix_verdict(strategy: BaseUserTurnStopStrategy, complete: bool) -> None:
    """Make the strategy's Smart Turn model return a fixed verdict (espeak's prosody makes
    the real one vary; the strategy, not the model, is under test)."""
    result = {"prediction": int(complete), "probability": 0.9 if complete else 0.1}
    strategy._turn_analyzer._predict_endpoint = lambda _audio: result  # type: ignore[attr-defined]


async def ends_within(
    strategy: BaseUserTurnStopStrategy,
    transcript: str,
    seconds: float,
    *,
    resume_after: float | None = None,
) -> bool:
    """Say "Yes please." (then 0.2 s of silence, the VAD's stop_secs), the VAD stops, the
    final ``transcript`` arrives; whether the turn ends within ``seconds`` of real time.
    ``resume_after``: the caller starts speaking again that long after the VAD stop."""
    await strategy.setup(
        FrameProcessorSetup(
            clock=None,  # type: ignore[arg-type]
            task_manager=TaskManager(loop=asyncio.get_running_loop()),  # type: ignore[arg-type]
            pipeline_worker=None,  # type: ignore[arg-type]
            audio_in_sample_rate=RATE,
        )
    )
    ended = asyncio.Event()

    @strategy.event_handler("on_user_turn_stopped")
    async def _stopped(_strategy, *_args) -> None:
        ended.set()

    speech = speech_pcm("Yes please.", RATE, voice="en-us+f2")
    await strategy.process_frame(VADUserStartedSpeakingFrame(start_secs=0.2))
    for chunk in frames(speech, RATE):
        await strategy.process_frame(InputAudioRawFrame(chunk, RATE, 1))
    for chunk in frames(silence_pcm(0.2, RATE), RATE):
        await strategy.process_frame(InputAudioRawFrame(chunk, RATE, 1))
    await strategy.process_frame(VADUserStoppedSpeakingFrame(stop_secs=0.2))
    await strategy.process_frame(
        TranscriptionFrame(transcript, "caller", "2026-01-01T00:00:00Z", finalized=True)
    )
    try:
        if resume_after is not None:
            await asyncio.sleep(resume_after)
            await strategy.process_frame(VADUserStartedSpeakingFrame(start_secs=0.2))
        await asyncio.wait_for(ended.wait(), seconds)
        return True
    except TimeoutError:
        return False
    finally:
        await strategy.cleanup()
