"""The first audio of a streamed HTTP speech response moves on before the rest arrives.

OpenAI's ``audio/speech`` streams while it synthesizes. pipecat's service read it in
``chunk_size`` pieces, half a second at the *pipeline's* rate (8,000 bytes on a phone call,
24,000 on a browser call; httpx yields only full pieces) and resampled it with soxr's VHQ
preset, which gives 8 kHz audio out in blocks of 137.5 ms: a sentence's first audio waited
until 167-500 ms of speech had arrived (BENCHMARKS.md step 19).
"""

from __future__ import annotations

import asyncio

import pytest
from pipecat.frames.frames import TTSAudioRawFrame, TTSSpeakFrame, TTSStoppedFrame

from loadgen.audio import rms
from pipeline.providers import TTSChoice, build_tts
from tests.fakes.tts_servers import FakeOpenAISpeech
from tests.realtime.pipeline.test_providers_speech import KEY, creds_for, running

TEXT = "Thanks for calling. How can I help you today?"


@pytest.mark.parametrize("rate", [8000, 24000])  # a phone call, a browser call
async def test_openai_speech_moves_on_as_it_arrives(rate: int) -> None:
    # half real time: 20 ms of speech every 40 ms, so a read holds little even on a busy
    # machine
    async with FakeOpenAISpeech(api_key=KEY, stream_speed=0.5) as fake:
        tts = build_tts(TTSChoice(provider="openai"), creds_for("openai", fake.base_url),
                        sample_rate=rate)
        arrived: list[float] = []
        async with running(tts, out_rate=rate) as h:
            await h.worker.queue_frame(TTSSpeakFrame(TEXT))
            await h.wait_for(lambda: h.collector.of(TTSAudioRawFrame))
            arrived.append(asyncio.get_running_loop().time())
            await h.wait_for(lambda: h.collector.of(TTSStoppedFrame), timeout=20)
        audio = h.collector.of(TTSAudioRawFrame)
        first_ms = 1000 * len(audio[0].audio) / (2 * rate)
        assert first_ms < 100  # was 137.5 ms (8 kHz) and 500 ms (24 kHz)
        # it reached the pipeline while the provider was still sending, not at the end
        assert arrived[0] < fake.finished_at[0]
        pcm = b"".join(f.audio for f in audio)
        assert len(pcm) / (2 * rate) > 1.5  # all of the sentence arrived, in pieces
        assert rms(pcm) > 500  # speech, not silence
