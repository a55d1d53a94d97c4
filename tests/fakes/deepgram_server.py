"""A fake Deepgram live-transcription server: Nova (``/v1/listen``) and Flux (``/v2/listen``).

Speech is found by energy, in audio time (20 ms frames over an RMS threshold start an
utterance; ``endpointing_ms`` of silence ends it), so silence yields nothing and results do
not depend on how fast the client sends.

Where the transcript comes from, explicitly:

* ``transcripts=[...]`` given: the n-th detected utterance on the server (counted across
  connections) is answered with ``transcripts[n]`` (the last entry repeats). Tests use this
  to assert exact text.
* otherwise: REAL recognition of the received audio with the PocketSphinx decoder from the
  ``pocketsphinx`` wheel (its bundled en-US model, audio resampled to 16 kHz). Interim
  results carry the decoder's partial hypothesis.

Injectable failures: ``reject_status`` answers the websocket handshake with that HTTP
status; ``close_after_audio_messages`` drops the connection (close code 1011) once that many
binary audio messages have arrived on it; ``fail_path`` limits both to one endpoint
(``"/v1/listen"`` or ``"/v2/listen"``); ``result_delay`` delays each final result;
``interim_every_ms=0`` sends no interim results (Nova) or ``Update``s (Flux).
``handshake_delay`` (seconds) holds every websocket upgrade that long, as a provider across
the internet takes its round trips; a test can hold upgrades until it sets
``handshake_gate`` (an ``asyncio.Event``); ``sockets`` holds every websocket it answered.
A Nova ``Finalize`` and a Flux ``EndOfTurn`` are ``mark``ed on the event timeline.
``api_key`` (when set) is required as ``Authorization: Token <key>``.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from tests.fakes import LoopbackServer
from tests.fakes.deepgram_speech import FRAME_MS, Recognizer, SpeechDetector


@dataclass
class ConnectionInfo:
    """What one client connection sent: path, query, headers and audio volume."""

    path: str
    query: dict[str, str]
    authorization: str | None
    language: str | None = None  # Nova's ``language`` query parameter
    language_hints: list[str] = field(default_factory=list)  # Flux's ``language_hint``s
    audio_messages: int = 0
    audio_bytes: int = 0
    control: list[dict[str, Any]] = field(default_factory=list)


class FakeDeepgram(LoopbackServer):
    """Deepgram's streaming STT endpoints. Point pipecat at ``ws_url`` as its base URL."""

    def __init__(
        self,
        *,
        transcripts: list[str] | None = None,
        api_key: str | None = None,
        reject_status: int | None = None,
        close_after_audio_messages: int | None = None,
        fail_path: str | None = None,
        result_delay: float = 0.0,
        energy_threshold: float = 400.0,
        endpointing_ms: int = 400,
        interim_every_ms: int = 240,
        handshake_delay: float = 0.0,
    ) -> None:
        super().__init__()
        self.transcripts = transcripts
        self.api_key = api_key
        self.reject_status = reject_status
        self.close_after_audio_messages = close_after_audio_messages
        self.fail_path = fail_path
        self.result_delay = result_delay
        self.energy_threshold = energy_threshold
        self.endpointing_ms = endpointing_ms
        self.interim_every_ms = interim_every_ms
        self.handshake_delay = handshake_delay
        self.handshake_gate: asyncio.Event | None = None
        self.sockets: list[web.WebSocketResponse] = []
        self.connections: list[ConnectionInfo] = []
        self.finals: list[str] = []  # every final transcript sent, in order
        self.utterances = 0
        self._recognizer: Recognizer | None = None
        self.app.router.add_get("/v1/listen", self._nova)
        self.app.router.add_get("/v2/listen", self._flux)

    # --- shared ------------------------------------------------------------------------

    def _transcript_source(self) -> tuple[str | None, Recognizer | None]:
        """The scripted transcript for the next utterance, or the recognizer."""
        if self.transcripts:
            index = min(self.utterances, len(self.transcripts) - 1)
            return self.transcripts[index], None
        if self._recognizer is None:
            self._recognizer = Recognizer()
        return None, self._recognizer

    async def _accept(self, request: web.Request) -> tuple[web.WebSocketResponse | None, Any]:
        info = ConnectionInfo(
            path=request.path,
            query=dict(request.query),
            authorization=request.headers.get("Authorization"),
            language=request.query.get("language"),
            language_hints=request.query.getall("language_hint", []),
        )
        self.connections.append(info)
        if self.reject_status is not None and self._fails(info):
            return None, web.Response(status=self.reject_status, text="injected failure")
        if self.api_key is not None and info.authorization != f"Token {self.api_key}":
            return None, web.json_response(
                {"err_code": "INVALID_AUTH", "err_msg": "Invalid credentials."}, status=401
            )
        if self.handshake_delay:
            await asyncio.sleep(self.handshake_delay)
        if self.handshake_gate is not None:
            await self.handshake_gate.wait()
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        self.sockets.append(ws)
        return ws, info

    def _fails(self, info: ConnectionInfo) -> bool:
        return self.fail_path is None or info.path == self.fail_path

    def _should_drop(self, info: ConnectionInfo) -> bool:
        limit = self.close_after_audio_messages
        return limit is not None and info.audio_messages >= limit and self._fails(info)

    # --- Nova (/v1/listen) -------------------------------------------------------------

    async def _nova(self, request: web.Request) -> web.StreamResponse:
        ws, info = await self._accept(request)
        if ws is None:
            return info
        rate = int(info.query.get("sample_rate", "16000"))
        interim = info.query.get("interim_results", "false") == "true"
        request_id = str(uuid.uuid4())
        utt = SpeechDetector(rate, self.energy_threshold, self.endpointing_ms)
        words: list[str] = []
        script: str | None = None
        recognizer: Recognizer | None = None
        since_interim = 0

        def results(text: str, *, is_final: bool, from_finalize: bool = False) -> str:
            start = utt.seconds(utt.start_frame)
            duration = utt.seconds(utt.frames_seen - utt.start_frame)
            return json.dumps(
                {
                    "type": "Results",
                    "channel_index": [0, 1],
                    "duration": duration,
                    "start": start,
                    "is_final": is_final,
                    "speech_final": is_final,
                    "from_finalize": from_finalize,
                    "channel": {
                        "alternatives": [
                            {
                                "transcript": text,
                                "confidence": 0.9 if text else 0.0,
                                "words": [
                                    {
                                        "word": w,
                                        "start": start,
                                        "end": start + duration,
                                        "confidence": 0.9,
                                        "punctuated_word": w,
                                    }
                                    for w in text.split()
                                ],
                            }
                        ]
                    },
                    "metadata": {
                        "request_id": request_id,
                        "model_info": {"name": "fake-nova", "version": "1", "arch": "fake"},
                        "model_uuid": "00000000-0000-0000-0000-000000000000",
                    },
                }
            )

        async def finish(from_finalize: bool = False) -> None:
            nonlocal script, recognizer
            text = script if recognizer is None else recognizer.finish()
            text = text or ""
            utt.speaking = False
            self.utterances += 1
            self.finals.append(text)
            if self.result_delay:
                await asyncio.sleep(self.result_delay)
            await ws.send_str(results(text, is_final=True, from_finalize=from_finalize))

        async for msg in ws:
            if msg.type == WSMsgType.BINARY:
                info.audio_messages += 1
                info.audio_bytes += len(msg.data)
                for frame, voiced in utt.frames(msg.data):
                    if not utt.speaking:
                        if utt.starts(frame, voiced):
                            since_interim = 0
                            script, recognizer = self._transcript_source()
                            words = (script or "").split()
                            if recognizer is not None:
                                recognizer.start(rate)
                                recognizer.feed(b"".join(utt.lead))
                        continue
                    if recognizer is not None:
                        recognizer.feed(frame)
                    since_interim += FRAME_MS
                    if utt.ends(voiced):
                        await finish()
                    elif interim and self.interim_every_ms and since_interim >= self.interim_every_ms:
                        since_interim = 0
                        partial = (
                            recognizer.partial()
                            if recognizer is not None
                            else " ".join(words[: max(1, len(words) // 2)])
                        )
                        if partial:
                            await ws.send_str(results(partial, is_final=False))
                if self._should_drop(info):
                    await ws.close(code=1011, message=b"injected failure")
                    break
            elif msg.type == WSMsgType.TEXT:
                control = json.loads(msg.data)
                info.control.append(control)
                kind = control.get("type")
                if kind == "Finalize":
                    self.mark("stt_finalize")
                    if utt.speaking:
                        await finish(from_finalize=True)
                    else:
                        await ws.send_str(results("", is_final=True, from_finalize=True))
                elif kind == "CloseStream":
                    if utt.speaking:
                        await finish()
                    await ws.send_str(
                        json.dumps(
                            {
                                "type": "Metadata",
                                "transaction_key": "deprecated",
                                "request_id": request_id,
                                "sha256": "0" * 64,
                                "created": "2026-01-01T00:00:00.000Z",
                                "duration": utt.seconds(utt.frames_seen),
                                "channels": 1,
                            }
                        )
                    )
                    await ws.close()
                    break
        return ws

    # --- Flux (/v2/listen) -------------------------------------------------------------

    async def _flux(self, request: web.Request) -> web.StreamResponse:
        ws, info = await self._accept(request)
        if ws is None:
            return info
        rate = int(info.query.get("sample_rate", "16000"))
        request_id = str(uuid.uuid4())
        utt = SpeechDetector(rate, self.energy_threshold, self.endpointing_ms)
        sequence = 0
        turn_index = 0
        script: str | None = None
        recognizer: Recognizer | None = None
        since_update = 0
        # With eager_eot_threshold set, Flux predicts the end of turn (EagerEndOfTurn) and
        # withdraws the prediction if speech resumes (TurnResumed).
        eager = "eager_eot_threshold" in info.query
        eager_sent = False

        async def send(payload: dict[str, Any]) -> None:
            nonlocal sequence
            payload = {"request_id": request_id, "sequence_id": sequence, **payload}
            sequence += 1
            await ws.send_str(json.dumps(payload))

        async def turn_info(event: str, text: str, confidence: float) -> None:
            await send(
                {
                    "type": "TurnInfo",
                    "event": event,
                    "turn_index": turn_index,
                    "audio_window_start": utt.seconds(utt.start_frame),
                    "audio_window_end": utt.seconds(utt.frames_seen),
                    "transcript": text,
                    "words": [{"word": w, "confidence": 0.9} for w in text.split()],
                    "end_of_turn_confidence": confidence,
                }
            )

        def partial() -> str:
            if recognizer is not None:
                return recognizer.partial()
            words = (script or "").split()
            return " ".join(words[: max(1, len(words) // 2)])

        await send({"type": "Connected"})
        async for msg in ws:
            if msg.type == WSMsgType.BINARY:
                info.audio_messages += 1
                info.audio_bytes += len(msg.data)
                for frame, voiced in utt.frames(msg.data):
                    if not utt.speaking:
                        if utt.starts(frame, voiced):
                            since_update = 0
                            script, recognizer = self._transcript_source()
                            if recognizer is not None:
                                recognizer.start(rate)
                                recognizer.feed(b"".join(utt.lead))
                            await turn_info("StartOfTurn", "", 0.0)
                        continue
                    if recognizer is not None:
                        recognizer.feed(frame)
                    since_update += FRAME_MS
                    if utt.ends(voiced):
                        text = (script if recognizer is None else recognizer.finish()) or ""
                        self.utterances += 1
                        self.finals.append(text)
                        if self.result_delay:
                            await asyncio.sleep(self.result_delay)
                        self.mark("stt_end_of_turn")
                        await turn_info("EndOfTurn", text, 0.92)
                        turn_index, eager_sent = turn_index + 1, False
                    elif eager and voiced and eager_sent:
                        eager_sent = False
                        await turn_info("TurnResumed", partial(), 0.1)
                    elif eager and not eager_sent and utt.silent_run * 2 >= utt.endpointing_frames:
                        eager_sent = True
                        await turn_info("EagerEndOfTurn", script or partial(), 0.6)
                    elif self.interim_every_ms and since_update >= self.interim_every_ms:
                        since_update = 0
                        await turn_info("Update", partial(), 0.2)
                if self._should_drop(info):
                    await ws.close(code=1011, message=b"injected failure")
                    break
            elif msg.type == WSMsgType.TEXT:
                control = json.loads(msg.data)
                info.control.append(control)
                if control.get("type") == "CloseStream":
                    await ws.close()
                    break
                if control.get("type") == "Configure":
                    await send({"type": "ConfigureSuccess"})
        return ws
