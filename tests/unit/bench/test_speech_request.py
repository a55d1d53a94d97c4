"""``bench.speech_request`` compares like with like: both clients send the same request and
read the same whole answer."""

from __future__ import annotations

from bench.speech_request import BODY, clients
from tests.fakes.tts_servers import FakeOpenAISpeech


async def test_both_clients_send_the_same_request_and_read_the_whole_answer() -> None:
    async with FakeOpenAISpeech(api_key="k") as fake, clients(fake.http_url) as runs:
        read = {name: await request() for name, request in runs.items()}
    assert set(read) == {"openai SDK (httpx)", "aiohttp"}
    assert len(set(read.values())) == 1 and next(iter(read.values())) > 40_000  # ~1 s at 24 kHz
    assert [r["body"] for r in fake.requests] == [BODY, BODY]
    assert {r["auth"] for r in fake.requests} == {"Bearer k"}
