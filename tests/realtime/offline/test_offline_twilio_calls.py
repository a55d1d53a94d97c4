"""The offline demo on the phone: ten scripted espeak callers dial the shipped templates
through the Twilio emulator (8 kHz μ-law) at once and must take the right path in >= 8
of 10."""

from __future__ import annotations

import asyncio
import uuid

import pytest

import loadgen.callers.twilio
from db import calls as calls_db
from loadgen.callers.media import voiced_seconds
from loadgen.callers.twilio import MediaStream, TwilioEmulator, stream_of
from tests.realtime.offline.calls import (
    SCRIPTS,
    STAGGER,
    VOICES,
    Caller,
    Script,
    converse,
    finished_call,
    heard,
    path_of,
    took,
    user_turns,
)
from tests.realtime.offline.conftest import PUBLIC, SID, TOKEN, OfflineServer, Org
from tests.realtime.offline.speech import CallerSpeech


async def _call(env: OfflineServer, twilio: TwilioEmulator, org: Org, script: Script,
                voice: str, wpm: int, delay: float) -> tuple[list[str], list[str]]:
    await asyncio.sleep(delay)  # callers start a little apart, as real ones do
    call_sid = "CA" + uuid.uuid4().hex
    r = await twilio.voice_webhook(org.numbers[script.template], "+14155550100", call_sid=call_sid)
    assert r.status_code == 200, r.text
    url, params = stream_of(r.text)
    stream = await MediaStream.open(twilio.to_loopback(url), params, call_sid, SID)

    voiced = [0, 0]  # bot bytes looked at, voiced 20 ms frames among them

    def agent_spoke() -> int:  # voiced bot audio so far, in 20 ms frames
        end = len(stream.bot_audio) // 160 * 160
        if end > voiced[0]:
            voiced[1] += round(voiced_seconds(stream.bot_pcm(voiced[0])[: (end - voiced[0]) * 2],
                                              8000) * 50)
            voiced[0] = end
        return voiced[1]

    # the server's row for this Twilio call (the API does not list calls by carrier call id)
    rows = await calls_db.list_for_org(env.db, uuid.UUID(org.id), limit=100)
    [call_id] = [str(c["id"]) for c in rows if c["carrier_call_id"] == call_sid]
    caller = Caller(
        say=lambda line: stream.say(line, voice=voice, rate_wpm=wpm),
        agent_spoke=agent_spoke,
        agent_quiet=lambda: stream.wait_bot_quiet(0.6),
        user_turns=lambda: user_turns(env.http, org.headers, call_id),
        hang_up=stream.stop,
    )
    await converse(caller, script)
    call = await finished_call(env.http, org.headers, call_id)
    return path_of(call), heard(call)


async def test_offline_templates_take_the_right_path_over_the_phone(
    offline_server: OfflineServer, caller_speech: CallerSpeech, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(loadgen.callers.twilio, "speech_pcm", caller_speech.pcm)  # what ``say`` sends
    org = await offline_server.organization(phone=True)
    twilio = TwilioEmulator(offline_server.server.url, PUBLIC, SID, TOKEN)
    try:
        results = await asyncio.gather(*(
            _call(offline_server, twilio, org, script, voice, wpm, STAGGER * i)
            for i, (script, (voice, wpm)) in enumerate(zip(SCRIPTS, VOICES, strict=True))
        ))
    finally:
        await twilio.aclose()
    # The path: the right node, and the right tool called (with any number heard).
    right = [took(path, s, numbers=False) for (path, _), s in zip(results, SCRIPTS, strict=True)]
    report = "\n".join(f"{s.template}: {s.lines} heard {said} took {path}"
                        for s, (path, said) in zip(SCRIPTS, results, strict=True))
    print(f"{sum(right)} of 10 took the right path:\n{report}")
    assert sum(right) >= 8, report
    # At 8 kHz the bundled wideband model loses the high band ("five" -> "nine", "four" ->
    # "all or"): read-out numbers are often wrong (measured 0-1 of 3 exact), which the
    # README says. The tool is still called with what was heard.
