"""Fake STT / LLM / TTS providers on loopback that answer instantly or after fixed delays.

They speak the real wire protocols, so the real client SDKs inside the servers under test
talk to them unchanged:

- Deepgram live STT (``/v1/listen`` websocket): linear16 audio in; a final ``Results``
  transcript is sent ``stt_delay`` seconds after the caller's speech ends (energy-based),
  or at once when the client sends ``Finalize`` (what pipecat does when its VAD stops).
- Deepgram Flux STT (``/v2/listen`` websocket): ``TurnInfo`` ``StartOfTurn`` when speech
  starts and ``EndOfTurn`` (with the transcript) ``stt_delay`` + ``eot_silence`` seconds after
  it ends — provider-side end-of-turn.
- OpenAI chat completions (``/v1/chat/completions``, streaming SSE): a fixed reply,
  first token after ``llm_delay`` seconds.
- OpenAI speech (``/v1/audio/speech``, ``pcm`` 24 kHz): pre-synthesised espeak-ng speech of
  the requested text, first byte after ``tts_delay`` seconds.

Run standalone: ``python -m bench.fake_services --port 9100``.
"""

from __future__ import annotations

import argparse
import asyncio
import audioop
import json
import time
import uuid
from collections import deque
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

REPLY = "Sure, I can help with that. What time would you like?"
TRANSCRIPT = "hello I would like to book a table"
#: Peak amplitude (16-bit) above which a 20 ms chunk of caller audio counts as speech.
SPEECH_PEAK = 1500
TTS_RATE = 24000


@dataclass
class FakeConfig:
    stt_delay: float = 0.0
    llm_delay: float = 0.0
    tts_delay: float = 0.0
    #: Flux: silence after speech before the provider declares end of turn.
    eot_silence: float = 0.3
    #: Deepgram v1: silence after speech before an unsolicited final transcript; None = only
    #: answer ``Finalize`` (pipecat finalizes on VAD stop, so that is the path it uses).
    final_silence: float | None = None


@lru_cache(maxsize=32)
def speech_pcm(text: str) -> bytes:
    """``text`` spoken by espeak-ng as 16-bit mono PCM at 24 kHz (OpenAI's pcm format)."""
    from pipeline.engines.espeak import synthesize

    pcm, rate = synthesize(text)
    if rate != TTS_RATE:
        pcm, _ = audioop.ratecv(pcm, 2, 1, rate, TTS_RATE, None)
    return pcm


def _mark(app: Any, kind: str) -> None:
    """Record when a provider request arrived (monotonic clock, shared by local processes)."""
    app.state.events.append((time.monotonic(), kind))


async def events(request: Request) -> Response:
    """``GET /events``: the request timeline recorded so far (then cleared)."""
    out = list(request.app.state.events)
    request.app.state.events.clear()
    return JSONResponse(out)


def _results(transcript: str, *, start: float, from_finalize: bool = False) -> str:
    words = [
        {"word": w, "start": start, "end": start + 0.2, "confidence": 0.99, "punctuated_word": w}
        for w in transcript.split()
    ]
    return json.dumps(
        {
            "type": "Results",
            "channel_index": [0, 1],
            "duration": 1.0,
            "start": start,
            "is_final": True,
            "speech_final": True,
            "from_finalize": from_finalize,
            "channel": {"alternatives": [{"transcript": transcript, "confidence": 0.99, "words": words}]},
            "metadata": {
                "request_id": str(uuid.uuid4()),
                "model_info": {"name": "fake", "version": "1", "arch": "fake"},
                "model_uuid": str(uuid.uuid4()),
            },
        }
    )


class _SpeechTracker:
    """Energy-based speech start/end over 16-bit PCM chunks."""

    def __init__(self) -> None:
        self.in_speech = False
        self.pending = False  # speech heard since the last transcript
        self.last_voice_at = 0.0
        self.audio_seconds = 0.0

    def feed(self, pcm: bytes, sample_rate: int, now: float) -> bool:
        """Returns True when this chunk starts speech."""
        self.audio_seconds += len(pcm) / (2 * sample_rate)
        if len(pcm) >= 2 and audioop.max(pcm, 2) >= SPEECH_PEAK:
            self.last_voice_at = now
            self.pending = True
            if not self.in_speech:
                self.in_speech = True
                return True
        return False


async def deepgram_listen(ws: WebSocket) -> None:
    cfg: FakeConfig = ws.app.state.config
    rate = int(ws.query_params.get("sample_rate", "16000"))
    await ws.accept()
    tracker = _SpeechTracker()
    lock = asyncio.Lock()

    async def send_final(from_finalize: bool) -> None:
        async with lock:
            text = TRANSCRIPT if tracker.pending else ""
            tracker.pending = False
            tracker.in_speech = False
            if cfg.stt_delay:
                await asyncio.sleep(cfg.stt_delay)
            await ws.send_text(_results(text, start=tracker.audio_seconds, from_finalize=from_finalize))

    async def endpointer() -> None:
        while True:
            await asyncio.sleep(0.05)
            if tracker.in_speech and time.monotonic() - tracker.last_voice_at > silence:
                await send_final(False)

    silence = cfg.final_silence
    task = asyncio.create_task(endpointer()) if silence is not None else None
    try:
        while True:
            msg = await ws.receive()
            if msg["type"] == "websocket.disconnect":
                break
            if msg.get("bytes") is not None:
                tracker.feed(msg["bytes"], rate, time.monotonic())
            elif msg.get("text") is not None:
                kind = json.loads(msg["text"]).get("type")
                if kind == "Finalize":
                    _mark(ws.app, "stt_finalize")
                    await send_final(True)
                elif kind == "CloseStream":
                    break
    except WebSocketDisconnect:
        pass
    finally:
        if task is not None:
            task.cancel()


async def flux_listen(ws: WebSocket) -> None:
    """Deepgram Flux (``/v2/listen``): TurnInfo events with provider-side end of turn."""
    cfg: FakeConfig = ws.app.state.config
    rate = int(ws.query_params.get("sample_rate", "16000"))
    await ws.accept()
    request_id = str(uuid.uuid4())
    await ws.send_text(json.dumps({"type": "Connected", "request_id": request_id, "sequence_id": 0}))
    tracker = _SpeechTracker()
    seq = 0
    turn = 0

    def turn_info(event: str, transcript: str) -> str:
        nonlocal seq
        seq += 1
        words = [{"word": w, "confidence": 0.99} for w in transcript.split()]
        return json.dumps(
            {
                "type": "TurnInfo",
                "request_id": request_id,
                "sequence_id": seq,
                "event": event,
                "turn_index": turn,
                "audio_window_start": 0.0,
                "audio_window_end": tracker.audio_seconds,
                "transcript": transcript,
                "words": words,
                "end_of_turn_confidence": 0.9 if event == "EndOfTurn" else 0.1,
            }
        )

    async def endpointer() -> None:
        nonlocal turn
        while True:
            await asyncio.sleep(0.02)
            if tracker.in_speech and time.monotonic() - tracker.last_voice_at > cfg.eot_silence:
                tracker.in_speech = False
                tracker.pending = False
                if cfg.stt_delay:
                    await asyncio.sleep(cfg.stt_delay)
                _mark(ws.app, "stt_end_of_turn")
                await ws.send_text(turn_info("EndOfTurn", TRANSCRIPT))
                turn += 1

    task = asyncio.create_task(endpointer())
    try:
        while True:
            msg = await ws.receive()
            if msg["type"] == "websocket.disconnect":
                break
            if msg.get("bytes") is not None:
                if tracker.feed(msg["bytes"], rate, time.monotonic()):
                    await ws.send_text(turn_info("StartOfTurn", ""))
            elif msg.get("text") is not None and json.loads(msg["text"]).get("type") == ("CloseStream"):
                break
    except WebSocketDisconnect:
        pass
    finally:
        task.cancel()


async def chat_completions(request: Request) -> Response:
    cfg: FakeConfig = request.app.state.config
    _mark(request.app, "llm_request")
    body = await request.json()
    created = int(time.time())
    cid = "chatcmpl-" + uuid.uuid4().hex
    model = body.get("model", "fake")

    def chunk(delta: dict, finish: str | None = None) -> str:
        return (
            "data: "
            + json.dumps(
                {
                    "id": cid,
                    "object": "chat.completion.chunk",
                    "created": created,
                    "model": model,
                    "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
                }
            )
            + "\n\n"
        )

    if not body.get("stream"):
        return JSONResponse(
            {
                "id": cid,
                "object": "chat.completion",
                "created": created,
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "finish_reason": "stop",
                        "message": {"role": "assistant", "content": REPLY},
                    }
                ],
                "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
            }
        )

    async def stream():
        if cfg.llm_delay:
            await asyncio.sleep(cfg.llm_delay)
        yield chunk({"role": "assistant", "content": ""})
        for i, word in enumerate(REPLY.split(" ")):
            yield chunk({"content": word if i == 0 else " " + word})
        yield chunk({}, "stop")
        yield "data: [DONE]\n\n"

    return StreamingResponse(stream(), media_type="text/event-stream")


async def audio_speech(request: Request) -> Response:
    cfg: FakeConfig = request.app.state.config
    _mark(request.app, "tts_request")
    body = await request.json()
    text = body.get("input") or " "
    pcm = await asyncio.to_thread(speech_pcm, text)

    async def stream():
        if cfg.tts_delay:
            await asyncio.sleep(cfg.tts_delay)
        step = TTS_RATE * 2 // 10  # 100 ms chunks
        for i in range(0, len(pcm), step):
            yield pcm[i : i + step]

    return StreamingResponse(stream(), media_type="audio/pcm")


def create_app(config: FakeConfig | None = None) -> Starlette:
    app = Starlette(
        routes=[
            WebSocketRoute("/v1/listen", deepgram_listen),
            WebSocketRoute("/v2/listen", flux_listen),
            Route("/v1/chat/completions", chat_completions, methods=["POST"]),
            Route("/v1/audio/speech", audio_speech, methods=["POST"]),
            Route("/events", events),
        ]
    )
    app.state.config = config or FakeConfig()
    app.state.events = deque(maxlen=200_000)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9100)
    parser.add_argument("--stt-delay", type=float, default=0.0)
    parser.add_argument("--llm-delay", type=float, default=0.0)
    parser.add_argument("--tts-delay", type=float, default=0.0)
    parser.add_argument("--eot-silence", type=float, default=0.3)
    args = parser.parse_args()
    for line in (REPLY, "Hello! Thanks for calling. How can I help you today?"):
        speech_pcm(line)
    cfg = FakeConfig(args.stt_delay, args.llm_delay, args.tts_delay, args.eot_silence)
    uvicorn.run(
        create_app(cfg),
        host=args.host,
        port=args.port,
        log_level="warning",
        ws_per_message_deflate=False,
    )


if __name__ == "__main__":
    main()
