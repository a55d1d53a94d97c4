"""The baseline: a minimal Twilio bot built from bare pipecat, in the shape of pipecat's own
Twilio example (FastAPI websocket endpoint, FastAPIWebsocketTransport, TwilioFrameSerializer,
Silero VAD + Smart Turn v3, Deepgram STT → OpenAI LLM → OpenAI TTS), pointed at the fake
providers of ``tests/fakes/providers.py``.

    python -m bench.baseline_bot --port 8765 --fakes http://127.0.0.1:9100 [--turn flux]

``POST /`` (or ``/telephony/twilio/voice``) answers TwiML connecting a media stream to
``/ws``; the websocket runs one pipeline per call.
"""

from __future__ import annotations

import argparse
import os

import uvicorn
from fastapi import FastAPI, Request, WebSocket
from fastapi.responses import Response
from pipecat.audio.turn.smart_turn.local_smart_turn_v3 import LocalSmartTurnAnalyzerV3
from pipecat.audio.vad.silero import SileroVADAnalyzer
from pipecat.frames.frames import LLMRunFrame
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.task import PipelineParams, PipelineTask
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.aggregators.llm_response_universal import (
    LLMContextAggregatorPair,
    LLMUserAggregatorParams,
)
from pipecat.runner.utils import parse_telephony_websocket
from pipecat.serializers.twilio import TwilioFrameSerializer
from pipecat.services.deepgram.flux.stt import DeepgramFluxSTTService
from pipecat.services.deepgram.stt import DeepgramSTTService
from pipecat.services.openai.llm import OpenAILLMService
from pipecat.services.openai.tts import OpenAITTSService
from pipecat.transports.websocket.fastapi import (
    FastAPIWebsocketParams,
    FastAPIWebsocketTransport,
)
from pipecat.turns.user_stop import TurnAnalyzerUserTurnStopStrategy
from pipecat.turns.user_turn_strategies import UserTurnStrategies
from pipecat.workers.runner import WorkerRunner

app = FastAPI()
CONFIG: dict[str, str] = {"fakes": "http://127.0.0.1:9100", "turn": "smart-turn"}

SYSTEM = "You are a helpful restaurant booking assistant. Keep answers short."


@app.post("/")
@app.post("/telephony/twilio/voice")
async def voice(request: Request) -> Response:
    host = request.headers.get("host", "127.0.0.1")
    twiml = (
        '<?xml version="1.0" encoding="UTF-8"?><Response><Connect>'
        f'<Stream url="ws://{host}/ws"><Parameter name="bench" value="baseline"/></Stream>'
        '</Connect><Pause length="40"/></Response>'
    )
    return Response(content=twiml, media_type="application/xml")


@app.websocket("/ws")
async def websocket_endpoint(websocket: WebSocket) -> None:
    await websocket.accept()
    _, call_data = await parse_telephony_websocket(websocket)
    await run_bot(websocket, call_data["stream_id"], call_data["call_id"])


async def run_bot(websocket: WebSocket, stream_sid: str, call_sid: str) -> None:
    fakes = CONFIG["fakes"]
    flux = CONFIG["turn"] == "flux"
    serializer = TwilioFrameSerializer(
        stream_sid=stream_sid,
        call_sid=call_sid,
        params=TwilioFrameSerializer.InputParams(auto_hang_up=False),
    )
    transport = FastAPIWebsocketTransport(
        websocket=websocket,
        params=FastAPIWebsocketParams(
            audio_in_enabled=True,
            audio_out_enabled=True,
            add_wav_header=False,
            serializer=serializer,
        ),
    )
    if flux:
        stt = DeepgramFluxSTTService(api_key="fake", url=fakes.replace("http", "ws", 1) + "/v2/listen")
    else:
        stt = DeepgramSTTService(api_key="fake", base_url=fakes)
    llm = OpenAILLMService(api_key="fake", base_url=fakes + "/v1", model="gpt-4o-mini")
    tts = OpenAITTSService(api_key="fake", base_url=fakes + "/v1", voice="alloy", sample_rate=24000)

    context = LLMContext([{"role": "system", "content": SYSTEM}])
    if flux:
        user_params = LLMUserAggregatorParams()  # Flux supplies its own turn strategies
    else:
        user_params = LLMUserAggregatorParams(
            vad_analyzer=SileroVADAnalyzer(),
            user_turn_strategies=UserTurnStrategies(
                stop=[TurnAnalyzerUserTurnStopStrategy(turn_analyzer=LocalSmartTurnAnalyzerV3())]
            ),
        )
    user_aggregator, assistant_aggregator = LLMContextAggregatorPair(context, user_params=user_params)
    pipeline = Pipeline(
        [
            transport.input(),
            stt,
            user_aggregator,
            llm,
            tts,
            transport.output(),
            assistant_aggregator,
        ]
    )
    task = PipelineTask(
        pipeline,
        params=PipelineParams(
            audio_in_sample_rate=8000,
            audio_out_sample_rate=8000,
            enable_metrics=True,
            enable_usage_metrics=True,
        ),
    )

    @transport.event_handler("on_client_connected")
    async def on_client_connected(transport, client):
        context.add_message({"role": "user", "content": "Say hello and introduce yourself."})
        await task.queue_frames([LLMRunFrame()])

    @transport.event_handler("on_client_disconnected")
    async def on_client_disconnected(transport, client):
        await task.cancel()

    runner = WorkerRunner(handle_sigint=False)
    await runner.run(task)


def main() -> None:
    parser = argparse.ArgumentParser(description="bare-pipecat Twilio bot (benchmark baseline)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--fakes", default="http://127.0.0.1:9100")
    parser.add_argument("--turn", choices=["smart-turn", "flux"], default="smart-turn")
    parser.add_argument("--log-level", default=os.environ.get("BASELINE_LOG_LEVEL", "WARNING"))
    args = parser.parse_args()
    CONFIG.update(fakes=args.fakes.rstrip("/"), turn=args.turn)
    import sys

    from loguru import logger

    logger.remove()
    logger.add(sys.stderr, level=args.log_level)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
