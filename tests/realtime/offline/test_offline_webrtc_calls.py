"""The offline demo over WebRTC: ten scripted espeak callers (aiortc peers, as a browser on
/talk) call the shipped templates at once and must take the right path in >= 8 of 10."""

from __future__ import annotations

import asyncio

from loadgen.audio import frames
from loadgen.callers.webrtc import WebRTCCaller
from loadgen.webrtc_caller import RATE
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
    reads_numbers,
    took,
    user_turns,
)
from tests.realtime.offline.conftest import OfflineServer, Org
from tests.realtime.offline.speech import CallerSpeech


async def _call(
    env: OfflineServer, org: Org, speech: CallerSpeech, script: Script, voice: str, wpm: int,
    delay: float,
) -> tuple[list[str], list[str]]:
    await asyncio.sleep(delay)  # callers start a little apart, as real ones do
    # resampled in a thread: the loop paces the calls already live
    lines = {line: frames(await asyncio.to_thread(speech.pcm, line, RATE, voice=voice,
                                                  rate_wpm=wpm), RATE)
             for line in script.lines}  # fmt: skip
    peer = WebRTCCaller()
    offer = await peer.offer()
    response = await env.http.post("/api/v1/webrtc/offer", headers=org.headers,
                                   json={**offer, "workflow_id": org.workflows[script.template]})  # fmt: skip
    assert response.status_code == 200, response.text
    answer = response.json()
    await peer.accept(answer)

    async def say(line: str) -> None:
        done: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        peer.mic.say(lines[line], done)
        await done

    caller = Caller(
        say=say,
        agent_spoke=lambda: peer.speech_frames(),
        agent_quiet=lambda: peer.wait_for_silence(frames=30),
        user_turns=lambda: user_turns(env.http, org.headers, answer["call_id"]),
        hang_up=peer.close,
    )
    await converse(caller, script)
    call = await finished_call(env.http, org.headers, answer["call_id"])
    return path_of(call), heard(call)


async def test_offline_templates_take_the_right_path_over_webrtc(
    offline_server: OfflineServer, caller_speech: CallerSpeech
) -> None:
    org = await offline_server.organization(phone=False)
    results = await asyncio.gather(*(
        _call(offline_server, org, caller_speech, script, voice, wpm, STAGGER * i)
        for i, (script, (voice, wpm)) in enumerate(zip(SCRIPTS, VOICES, strict=True))
    ))
    # The path: the right node, and the right tool called (with any number heard).
    right = [took(path, s, numbers=False) for (path, _), s in zip(results, SCRIPTS, strict=True)]
    report = "\n".join(f"{s.template}: {s.lines} heard {said} took {path}"
                        for s, (path, said) in zip(SCRIPTS, results, strict=True))
    print(f"{sum(right)} of 10 took the right path:\n{report}")
    assert sum(right) >= 8, report
    # Numbers read out at 16 kHz reach the tool exactly: measured 2-3 of 3 on the engineer's
    # runs, 1 of 3 in a fresh-clone make test ("one zero zero one" heard as "want zero you
    # want"); at least one must, so a regression to none fails.
    exact = [took(path, s) for (path, _), s in zip(results, SCRIPTS, strict=True) if reads_numbers(s)]
    assert sum(exact) >= 1, report
