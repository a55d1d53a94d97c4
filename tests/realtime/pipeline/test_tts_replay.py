"""After a TTS failover the sentence the failed provider lost is spoken on the fallback.

The real pipecat services against the fake TTS servers on 127.0.0.1: OpenAI's speech
endpoint answers 500, Deepgram Aura (the fallback) speaks. Without the replay ledger the
first sentence is lost (tests/realtime/pipeline/test_providers_speech.py shows that).
"""

from __future__ import annotations

from pipecat.frames.frames import TTSAudioRawFrame, TTSSpeakFrame, TTSStoppedFrame
from pipecat.pipeline.pipeline import Pipeline

from pipeline.providers import (
    ProviderFailover,
    ProviderSettings,
    StoredCredential,
    TTSChoice,
    build_tts_stage,
    resolve_credentials,
)
from pipeline.tts_replay import TTSReplay
from tests.fakes.tts_servers import FakeDeepgramAura, FakeOpenAISpeech
from tests.realtime.pipeline.test_providers_speech import KEY, LOCAL, running


async def test_the_sentence_that_failed_is_spoken_again_on_the_fallback() -> None:
    reports: list[ProviderFailover] = []
    replay = TTSReplay()

    def on_failover(switch: ProviderFailover) -> None:
        reports.append(switch)
        replay.tts_failed_over()

    async with FakeOpenAISpeech(fail_status=500) as openai_fake, FakeDeepgramAura() as aura:
        creds = resolve_credentials(
            {
                "openai": StoredCredential(KEY, openai_fake.base_url),
                "deepgram": StoredCredential(KEY, aura.ws_url),
            },
            egress=LOCAL,
        )
        settings = ProviderSettings(
            tts=TTSChoice(provider="openai"), fallback_tts=TTSChoice(provider="deepgram")
        )
        stage = build_tts_stage(settings, creds, sample_rate=16000, on_failover=on_failover)
        async with running(Pipeline([replay.before, stage, replay.after])) as h:
            await h.worker.queue_frame(TTSSpeakFrame("First sentence."))
            await h.wait_for(lambda: reports and aura.texts)
            await h.worker.queue_frame(TTSSpeakFrame("Second sentence."))
            await h.wait_for(lambda: len(aura.texts) == 2)
            await h.wait_for(lambda: h.collector.of(TTSAudioRawFrame) and h.collector.of(TTSStoppedFrame))
    assert [(r.kind, r.from_provider, r.to_provider) for r in reports] == [("tts", "openai", "deepgram")]
    assert len(openai_fake.requests) >= 1  # the primary was really tried with it
    assert aura.texts == ["First sentence.", "Second sentence."]  # nothing lost, nothing twice
