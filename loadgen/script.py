"""The scripted dialogue a load caller plays, and what one call records.

:class:`ScriptedCaller` runs the dialogue (wait for the greeting, speak a line, wait for the
answer, pause, barge in every n-th answer); a channel (:mod:`loadgen.twilio_caller`,
:mod:`loadgen.webrtc_caller`) supplies the transport: how to speak and when the bot is idle.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from loadgen.timeline import CallTimeline

#: Caller lines without internal pauses, each judged a complete turn by Smart Turn v3 when
#: spoken by espeak-ng (so turn detection, not the script, decides the end-of-turn wait).
DEFAULT_LINES = (
    "I would like to book a table for tonight.",
    "Do you have a table for four on Friday?",
    "Seven o'clock works for me.",
    "My name is Alex.",
    "Thank you very much.",
)

#: Lines of 1.5-2.5 s of espeak-ng speech each: the ``dense`` caller's turns.
DENSE_LINES = (
    "I would like to book a table for tonight.",
    "Do you have a table for four on Friday?",
    "Seven o'clock works fine for all of us.",
    "Could we sit near the window, please?",
    "I need a table for six people on Saturday.",
)


@dataclass(frozen=True)
class CallScript:
    turns: int = 3
    lines: tuple[str, ...] = DEFAULT_LINES
    #: Silence after the bot finished speaking before the caller speaks.
    pause: float = 0.6
    #: Up to this much extra silence, random per turn (seeded by call index), so that
    #: concurrent calls do not all speak at the same instant.
    pause_jitter: float = 1.0
    #: Bot audio must have played out and been quiet this long to count as finished.
    quiet: float = 0.4
    #: Every n-th turn (1-based) the caller barges in 0.5 s into the bot's answer; 0 = never.
    barge_in_every: int = 0
    barge_in_after: float = 0.5
    greeting_timeout: float = 10.0
    response_timeout: float = 10.0
    #: Hard cap on the media-stream part of a call (seconds); None = until turns are done.
    max_duration: float | None = None
    #: Expect a greeting before the first turn (otherwise speak after ``pause``).
    expect_greeting: bool = True


#: Caller profiles (``switchboard loadtest --pace``). ``sparse``: answers 1.0-2.0 s after the
#: bot's last audio (0.4 s quiet + 0.6 s + up to 1 s jitter), lines of 1-2 s. ``dense``: the way
#: people talk on the phone: answers 0.3-0.8 s after the bot's last audio, 1.5-2.5 s of speech
#: per turn (calls are also started over 5 s: see ``loadgen.cli``).
PACES: dict[str, CallScript] = {
    "sparse": CallScript(),
    "dense": CallScript(lines=DENSE_LINES, pause=0.0, pause_jitter=0.5, quiet=0.3),
}
#: Seconds over which ``dense`` starts its calls (the ramp is concurrency / this).
DENSE_RAMP_SECONDS = 5.0


@dataclass
class CallResult:
    index: int
    call_sid: str
    timeline: CallTimeline = field(default_factory=CallTimeline)
    errors: list[str] = field(default_factory=list)
    webhook_seconds: float | None = None
    connect_seconds: float | None = None
    sender_lags: list[float] = field(default_factory=list)
    started_at: float = 0.0
    ended_at: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.errors


class StreamError(RuntimeError):
    pass


class ScriptedCaller:
    """One call playing a :class:`CallScript`; ``await run()`` returns its :class:`CallResult`.

    Subclasses place the call (``run``) and implement ``_speak`` and ``_bot_idle``; they set
    ``_awaiting_clear`` to False once the interrupted answer of a barge-in has stopped."""

    def __init__(self, index: int, script: CallScript, call_sid: str = "") -> None:
        self.script = script
        self.result = CallResult(index=index, call_sid=call_sid)
        self._hanging_up = False
        self._awaiting_clear = False
        self._rng = random.Random(index)

    async def run(self) -> CallResult:
        raise NotImplementedError

    def _bot_idle(self, now: float) -> bool:
        """The bot's answer has finished (played out, then quiet for ``script.quiet``)."""
        raise NotImplementedError

    async def _speak(self, text: str) -> float:
        """Speak ``text``; returns when its last frame was sent (that time)."""
        raise NotImplementedError

    async def _wait(self, predicate: Callable[[], bool], limit: float, what: str) -> None:
        deadline = time.monotonic() + limit
        while not predicate():
            if time.monotonic() > deadline:
                raise StreamError(f"timed out waiting for {what}")
            await asyncio.sleep(0.02)

    async def _script(self, start: float) -> None:
        s = self.script
        timeline = self.result.timeline
        end_at = start + s.max_duration if s.max_duration else None

        def bot_done() -> bool:
            return self._bot_idle(time.monotonic())

        if s.expect_greeting:
            await self._wait(
                lambda: timeline.first_bot_audio_at is not None, s.greeting_timeout, "the greeting"
            )
            await self._wait(bot_done, s.greeting_timeout + 30, "the greeting to end")
        barge_in_next = False
        for k in range(s.turns):
            if end_at and time.monotonic() >= end_at:
                break
            if not barge_in_next:
                await asyncio.sleep(s.pause + self._rng.uniform(0.0, s.pause_jitter))
            line = s.lines[k % len(s.lines)]
            if barge_in_next:
                self._awaiting_clear = True
            ended = await self._speak(line)
            timeline.on_caller_speech_end(ended, barge_in=barge_in_next)
            turn = timeline.turns[-1]
            await self._wait(
                lambda t=turn: t.response_at is not None,
                s.response_timeout,
                f"the answer to turn {k + 1}",
            )
            barge_in_next = bool(s.barge_in_every) and (k + 1) % s.barge_in_every == 0
            barge_in_next = barge_in_next and k + 1 < s.turns
            if barge_in_next:
                await asyncio.sleep(s.barge_in_after)
            else:
                await self._wait(bot_done, s.response_timeout + 60, f"the end of answer {k + 1}")
