"""Fake text-to-speech servers speaking the providers' wire protocols, as pipecat uses them.

* ``FakeDeepgramAura`` - websocket ``/v1/speak``: ``Speak`` text accumulates, ``Flush``
  synthesizes it (binary PCM, then ``Flushed``), ``Clear`` drops it (``Cleared``).
* ``FakeOpenAISpeech`` - ``POST /v1/audio/speech``: streams 24 kHz s16le PCM (``pcm``).
* ``FakeElevenLabs`` - websocket ``/v1/text-to-speech/{voice}/multi-stream-input``:
  per-``context_id`` text, base64 ``audio`` + character ``alignment``, ``isFinal`` on
  ``close_context``.
* ``FakeCartesia`` - websocket ``/tts/websocket``: ``chunk`` messages (base64 PCM) per
  ``context_id``, ``timestamps``, and ``done`` once ``continue`` is false.

The audio is REAL speech: espeak-ng in the agent's voice (``loadgen.speech``, cached per
text and rate) at the rate the client asked for; each request is ``mark``ed ``tts_request``.
Injectable failures: ``fail_status`` (HTTP status for the handshake / request),
``close_after_messages`` (drop a websocket with code 1011 after that many client messages),
``delay`` (seconds before each synthesized utterance). ``api_key`` when set is checked in
the provider's own auth header. ``texts`` records what was spoken, ``languages`` the
language each request asked for as the provider reads it: Aura the voice model's suffix
(``aura-2-agathe-fr`` -> ``fr``), ElevenLabs the ``language_code`` query parameter,
Cartesia each generation message's ``language`` (OpenAI speech has no language parameter:
its ``voice``/``instructions`` are in ``requests[i]["body"]``).
"""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from typing import Any

from aiohttp import WSMsgType, web

from loadgen.speech import agent_speech_pcm
from tests.fakes import LoopbackServer

CHUNK_MS = 100


def chunks(pcm: bytes, sample_rate: int, chunk_ms: int = CHUNK_MS) -> list[bytes]:
    size = sample_rate * 2 * chunk_ms // 1000
    return [pcm[i : i + size] for i in range(0, len(pcm), size)]


class _FakeTTS(LoopbackServer):
    auth_header = "Authorization"
    auth_prefix = "Bearer "

    def __init__(
        self,
        *,
        api_key: str | None = None,
        fail_status: int | None = None,
        close_after_messages: int | None = None,
        delay: float = 0.0,
    ) -> None:
        super().__init__()
        self.api_key = api_key
        self.fail_status = fail_status
        self.close_after_messages = close_after_messages
        self.delay = delay
        self.texts: list[str] = []
        self.languages: list[str | None] = []
        self.requests: list[dict[str, Any]] = []  # path, query, auth of each connection

    def _refuse(self, request: web.Request) -> web.Response | None:
        self.requests.append(
            {
                "path": request.path,
                "query": dict(request.query),
                "auth": request.headers.get(self.auth_header),
            }
        )
        if self.fail_status is not None:
            return web.json_response({"error": "injected failure"}, status=self.fail_status)
        if self.api_key is not None and (
            request.headers.get(self.auth_header) != f"{self.auth_prefix}{self.api_key}"
        ):
            return web.json_response({"error": "invalid api key"}, status=401)
        return None

    async def _speech(self, text: str, sample_rate: int) -> bytes:
        self.mark("tts_request")
        self.texts.append(text)
        if self.delay:
            await asyncio.sleep(self.delay)
        return await asyncio.to_thread(agent_speech_pcm, text, sample_rate)

    def _drop(self, received: int) -> bool:
        return self.close_after_messages is not None and received >= self.close_after_messages


class FakeDeepgramAura(_FakeTTS):
    """Deepgram Aura streaming TTS. Point ``DeepgramTTSService(base_url=ws_url)`` here."""

    auth_prefix = "Token "

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.app.router.add_get("/v1/speak", self._speak)

    async def _speak(self, request: web.Request) -> web.StreamResponse:
        refused = self._refuse(request)
        if refused is not None:
            return refused
        rate = int(request.query.get("sample_rate", "24000"))
        self.languages.append(request.query.get("model", "aura-2-helena-en").rsplit("-", 1)[-1])
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        request_id = str(uuid.uuid4())
        await ws.send_str(
            json.dumps(
                {
                    "type": "Metadata",
                    "request_id": request_id,
                    "model_name": request.query.get("model", "aura-2-helena-en"),
                    "model_version": "fake",
                    "model_uuid": "00000000-0000-0000-0000-000000000000",
                }
            )
        )
        pending: list[str] = []
        sequence = 0
        received = 0
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            received += 1
            if self._drop(received):
                await ws.close(code=1011, message=b"injected failure")
                break
            data = json.loads(msg.data)
            kind = data.get("type")
            if kind == "Speak":
                pending.append(data.get("text", ""))
            elif kind == "Flush":
                text = "".join(pending).strip()
                pending.clear()
                if text:
                    for chunk in chunks(await self._speech(text, rate), rate):
                        await ws.send_bytes(chunk)
                await ws.send_str(json.dumps({"type": "Flushed", "sequence_id": sequence}))
                sequence += 1
            elif kind == "Clear":
                pending.clear()
                await ws.send_str(json.dumps({"type": "Cleared", "sequence_id": sequence}))
            elif kind == "Close":
                await ws.close()
                break
        return ws


class FakeOpenAISpeech(_FakeTTS):
    """OpenAI ``audio/speech``. Point the OpenAI client's ``base_url`` at ``base_url``.

    ``stream_speed``: 0 writes the whole response at once (in ``CHUNK_MS`` pieces); a
    positive value streams it in ``STREAM_PIECE_MS`` pieces at that multiple of real time,
    as a provider that synthesizes while it sends does. ``finished_at`` holds the loop time
    each response's last piece was written.
    """

    SAMPLE_RATE = 24_000
    STREAM_PIECE_MS = 20

    def __init__(self, *, stream_speed: float = 0.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if stream_speed < 0:
            raise ValueError("stream_speed must be 0 (at once) or positive")
        self.stream_speed = stream_speed
        self.finished_at: list[float] = []
        self.app.router.add_post("/v1/audio/speech", self._speech_endpoint)

    @property
    def base_url(self) -> str:
        return f"{self.http_url}/v1"

    async def _speech_endpoint(self, request: web.Request) -> web.StreamResponse:
        refused = self._refuse(request)
        if refused is not None:
            if refused.status >= 500:
                return web.json_response(
                    {"error": {"message": "injected failure", "type": "server_error"}},
                    status=refused.status,
                )
            return refused
        body = await request.json()
        self.requests[-1]["body"] = body
        if body.get("response_format") != "pcm":
            return web.json_response({"error": {"message": "fake supports pcm only"}}, status=400)
        pcm = await self._speech(body["input"], self.SAMPLE_RATE)
        response = web.StreamResponse(headers={"Content-Type": "audio/pcm"})
        await response.prepare(request)
        loop = asyncio.get_running_loop()
        start = loop.time()
        piece_ms = self.STREAM_PIECE_MS if self.stream_speed else CHUNK_MS
        for i, piece in enumerate(chunks(pcm, self.SAMPLE_RATE, piece_ms)):
            # streamed: each piece when the stream reaches it at stream_speed
            if self.stream_speed and (wait := start + i * piece_ms / 1000 / self.stream_speed
                                      - loop.time()) > 0:
                await asyncio.sleep(wait)
            await response.write(piece)
        self.finished_at.append(loop.time())
        await response.write_eof()
        return response


class FakeElevenLabs(_FakeTTS):
    """ElevenLabs multi-context websocket. Point ``ElevenLabsTTSService(url=ws_url)`` here."""

    auth_header = "xi-api-key"
    auth_prefix = ""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.app.router.add_get(
            "/v1/text-to-speech/{voice_id}/multi-stream-input", self._multi_stream
        )

    async def _multi_stream(self, request: web.Request) -> web.StreamResponse:
        refused = self._refuse(request)
        if refused is not None:
            return refused
        output_format = request.query.get("output_format", "pcm_24000")
        rate = int(output_format.split("_")[1])
        self.languages.append(request.query.get("language_code"))
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        received = 0
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            received += 1
            if self._drop(received):
                await ws.close(code=1011, message=b"injected failure")
                break
            data = json.loads(msg.data)
            context_id = data.get("context_id")
            if data.get("close_socket"):
                await ws.close()
                break
            if data.get("close_context"):
                await ws.send_str(json.dumps({"isFinal": True, "contextId": context_id}))
                continue
            text = data.get("text", "")
            if context_id is None or not text.strip():
                continue  # keepalive or context init
            pcm = await self._speech(text, rate)
            await self._send_audio(ws, text, pcm, rate, context_id)
        return ws

    @staticmethod
    async def _send_audio(
        ws: web.WebSocketResponse, text: str, pcm: bytes, rate: int, context_id: str
    ) -> None:
        pieces = chunks(pcm, rate, 250)
        # Spread the characters over the chunks in order, with an even duration each.
        per_chunk = max(1, -(-len(text) // len(pieces)))
        for i, piece in enumerate(pieces):
            chars = list(text[i * per_chunk : (i + 1) * per_chunk])
            span_ms = len(piece) * 1000 // (rate * 2)
            step = span_ms // max(1, len(chars))
            message: dict[str, Any] = {
                "audio": base64.b64encode(piece).decode(),
                "contextId": context_id,
                "isFinal": None,
                "alignment": {
                    "chars": chars,
                    "charStartTimesMs": [j * step for j in range(len(chars))],
                    "charDurationsMs": [step] * len(chars),
                }
                if chars
                else None,
            }
            await ws.send_str(json.dumps(message))


class FakeCartesia(_FakeTTS):
    """Cartesia TTS websocket. Point ``CartesiaTTSService(url=f"{ws_url}/tts/websocket")``."""

    auth_header = "X-API-Key"
    auth_prefix = ""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.app.router.add_get("/tts/websocket", self._websocket)

    async def _websocket(self, request: web.Request) -> web.StreamResponse:
        refused = self._refuse(request)
        if refused is not None:
            return refused
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        received = 0
        cancelled: set[str] = set()
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            received += 1
            if self._drop(received):
                await ws.close(code=1011, message=b"injected failure")
                break
            data = json.loads(msg.data)
            context_id = data.get("context_id", "")
            if data.get("cancel"):
                cancelled.add(context_id)
                continue
            if context_id in cancelled:
                continue
            text = data.get("transcript", "")
            rate = int(data.get("output_format", {}).get("sample_rate", 24000))
            if text.strip():
                self.languages.append(data.get("language"))
                pcm = await self._speech(text, rate)
                words = text.split()
                seconds = len(pcm) / (rate * 2)
                await ws.send_str(
                    json.dumps(
                        {
                            "type": "timestamps",
                            "context_id": context_id,
                            "status_code": 206,
                            "done": False,
                            "word_timestamps": {
                                "words": words,
                                "start": [seconds * i / len(words) for i in range(len(words))],
                                "end": [seconds * (i + 1) / len(words) for i in range(len(words))],
                            },
                        }
                    )
                )
                for piece in chunks(pcm, rate):
                    await ws.send_str(
                        json.dumps(
                            {
                                "type": "chunk",
                                "context_id": context_id,
                                "status_code": 206,
                                "done": False,
                                "data": base64.b64encode(piece).decode(),
                                "step_time": CHUNK_MS,
                            }
                        )
                    )
            if data.get("continue") is False:
                await ws.send_str(
                    json.dumps(
                        {"type": "done", "context_id": context_id, "status_code": 200, "done": True}
                    )
                )
        return ws
