"""The fake STT, LLM and TTS providers on ONE loopback port, answering at once or after
fixed delays: what the benchmark and the load-generator tests run the servers against.

    python -m tests.fakes.providers --port 9100 [--stt-delay S] [--llm-delay S] [--tts-delay S]
                                    [--stt-connect-delay S] [--tts-stream-speed X]

- Deepgram Nova (``/v1/listen``) and Flux (``/v2/listen``): :class:`FakeDeepgram` with a
  fixed transcript, no interim results; Flux ends the turn after ``eot_silence`` of silence
  (in audio time), Nova answers ``Finalize`` (pipecat finalizes when its VAD stops); each
  websocket upgrade is answered after ``stt_connect_delay`` (a provider's handshake across
  the internet: ``bench/ab.py --stt-connect-delay``).
- OpenAI chat completions and responses (``/v1/...``): :class:`FakeOpenAI` with one fixed
  reply, first token after ``llm_delay``.
- OpenAI speech (``/v1/audio/speech``, 24 kHz ``pcm``): :class:`FakeOpenAISpeech`, espeak-ng
  speech of the requested text (cached), first byte after ``tts_delay``; all of it at once,
  or streamed at ``tts_stream_speed`` times real time (``bench/ab.py --tts-stream-speed``).
- ``GET /events``: the providers' event timeline so far, ``[[monotonic seconds, kind], ...]``
  (``stt_finalize``, ``stt_end_of_turn``, ``llm_request``, ``tts_request``), then cleared.
  Processes on one machine share the monotonic clock, so a load generator can line its own
  timeline up with it (``bench/turn_timeline.py``).
"""

from __future__ import annotations

import argparse
import asyncio
from dataclasses import dataclass

from aiohttp import web

from loadgen.speech import agent_speech_pcm
from tests.fakes import LoopbackServer
from tests.fakes.deepgram_server import FakeDeepgram
from tests.fakes.openai_server import FakeOpenAI, say
from tests.fakes.tts_servers import FakeOpenAISpeech

REPLY = "Sure, I can help with that. What time would you like?"
TRANSCRIPT = "hello I would like to book a table"
GREETING = "Hello! Thanks for calling. How can I help you today?"


@dataclass(frozen=True)
class ProviderDelays:
    stt_delay: float = 0.0
    llm_delay: float = 0.0
    tts_delay: float = 0.0
    #: Flux: silence after speech before the provider declares the end of the turn.
    eot_silence: float = 0.3
    #: Deepgram: how long each websocket upgrade takes to be answered.
    stt_connect_delay: float = 0.0
    #: OpenAI speech: 0 sends the audio at once, X streams it at X times real time.
    tts_stream_speed: float = 0.0


class FakeProviders(LoopbackServer):
    """Deepgram + OpenAI (LLM and speech) fakes served from one aiohttp application."""

    def __init__(self, delays: ProviderDelays | None = None) -> None:
        super().__init__()
        d = delays or ProviderDelays()
        self.deepgram = FakeDeepgram(
            transcripts=[TRANSCRIPT],
            result_delay=d.stt_delay,
            endpointing_ms=int(d.eot_silence * 1000),
            interim_every_ms=0,
            handshake_delay=d.stt_connect_delay,
        )
        self.openai = FakeOpenAI()
        self.openai.responder = lambda _body: say(REPLY, delay=d.llm_delay)
        self.speech = FakeOpenAISpeech(delay=d.tts_delay, stream_speed=d.tts_stream_speed)
        self.members: tuple[LoopbackServer, ...] = (self.deepgram, self.openai, self.speech)
        for member in self.members:
            for route in member.app.router.routes():
                if route.method != "HEAD":  # aiohttp adds HEAD next to each GET
                    self.app.router.add_route(route.method, route.resource.canonical, route.handler)
        self.app.router.add_get("/events", self._events)

    def timeline(self) -> list[tuple[float, str]]:
        """Every member's events, oldest first; the members' logs are emptied."""
        out = sorted(e for m in self.members for e in m.events)
        for member in self.members:
            member.events.clear()
        return out

    async def _events(self, _request: web.Request) -> web.Response:
        return web.json_response(self.timeline())


async def serve(port: int, delays: ProviderDelays) -> None:
    for line in (REPLY, GREETING):  # synthesize before any call is on the clock
        agent_speech_pcm(line, FakeOpenAISpeech.SAMPLE_RATE)
    fakes = await FakeProviders(delays).start(port)
    try:
        await asyncio.Event().wait()  # until the process is terminated
    finally:
        await fakes.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=9100)
    parser.add_argument("--stt-delay", type=float, default=0.0)
    parser.add_argument("--llm-delay", type=float, default=0.0)
    parser.add_argument("--tts-delay", type=float, default=0.0)
    parser.add_argument("--eot-silence", type=float, default=0.3)
    parser.add_argument("--stt-connect-delay", type=float, default=0.0)
    parser.add_argument("--tts-stream-speed", type=float, default=0.0,
                        help="stream speech at this multiple of real time (0: all at once)")
    args = parser.parse_args()
    delays = ProviderDelays(args.stt_delay, args.llm_delay, args.tts_delay, args.eot_silence,
                            args.stt_connect_delay, args.tts_stream_speed)  # fmt: skip
    asyncio.run(serve(args.port, delays))


if __name__ == "__main__":
    main()
