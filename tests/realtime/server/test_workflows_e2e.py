"""The whole product path: a workflow made and published over HTTP answers a browser call.

The caller (aiortc, espeak-ng speech) moves the call through its nodes with its words, the
agent (offline scripted engine) calls an HTTP tool, reaches the end node and hangs up; then
the call carries extracted variables and a summary, and the customer's webhook receives
signed ``call.ended`` and ``call.analyzed`` events. Speech is recognised by the Deepgram SDK
against the fake Deepgram server, which answers each detected utterance with the scripted
transcript (PocketSphinx alone mishears too many of these words to steer a graph reliably).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web

from loadgen.callers.webrtc import speech_pcm
from server.jobs.webhooks import verify
from tests.fakes import LoopbackServer
from tests.fakes.deepgram_server import FakeDeepgram
from tests.realtime.server.test_webrtc_calls import connect, publish_workflow, wait_for_end

ASK = "I want to make a reservation."
PARTY = "A table for four people."
BYE = "That is all, thank you very much."
TRANSCRIPTS = ["I want to make a reservation", "a table for four people",
               "that is all thank you very much"]


def _workflow(tool_url: str) -> dict[str, Any]:
    return {
        "nodes": [
            {"id": "start", "type": "start", "greeting": "Hello, this is the booking line.",
             "say": "How can I help you?"},
            {"id": "booking", "type": "agent", "say": "Sure. For how many people?",
             "tools": ["check_tables"]},
            {"id": "bye", "type": "end", "say": "Goodbye."},
        ],
        "edges": [
            {"from": "start", "to": "booking",
             "condition": "The caller wants to make a reservation"},
            {"from": "booking", "to": "bye", "condition": "The caller says that is all, thanks"},
        ],
        "tools": [{
            "type": "http", "name": "check_tables", "method": "POST", "url": tool_url,
            "headers": {"Authorization": "Bearer {{secret.booking_api_key}}"},
            "description": "check free tables for a party of people",
            "parameters": {"type": "object",
                           "properties": {"party": {"type": "string"}}},
            "timeout_seconds": 5,
        }],
        "variables": [{"name": "party", "type": "string", "description": "Party size"}],
    }


class Backend(LoopbackServer):
    """The restaurant's booking API and the customer's webhook receiver in one."""

    def __init__(self) -> None:
        super().__init__()
        self.tool_calls: list[dict[str, Any]] = []
        self.tool_auth: list[str | None] = []
        self.events: list[tuple[dict[str, str], bytes]] = []
        self.app.router.add_post("/tables", self._tables)
        self.app.router.add_post("/hook", self._hook)

    async def _tables(self, request: web.Request) -> web.Response:
        self.tool_calls.append(await request.json())
        self.tool_auth.append(request.headers.get("Authorization"))
        return web.Response(text="A table is free at eight.")

    async def _hook(self, request: web.Request) -> web.Response:
        self.events.append((dict(request.headers), await request.read()))
        return web.Response(status=204)


async def _call_state(client: Any, headers: dict[str, str], call_id: str) -> str:
    call = (await client.get(f"/api/v1/calls/{call_id}", headers=headers)).json()
    turns = [(t["speaker"], t["text"], t["node"]) for t in call.get("turns", [])]
    return f"call {call.get('status')} end_reason={call.get('end_reason')} turns={turns}"


async def test_published_workflow_answers_a_browser_call(client, make_user) -> None:  # type: ignore[no-untyped-def]
    for text in (ASK, PARTY, BYE):
        speech_pcm(text)  # synthesize before the call starts
    user = await make_user()
    async with Backend() as backend, FakeDeepgram(transcripts=TRANSCRIPTS) as deepgram:
        put = await client.put("/api/v1/provider-credentials/deepgram", headers=user.headers,
                               json={"api_key": "deepgram-key-0001", "base_url": deepgram.ws_url})
        assert put.status_code == 200, put.text
        put = await client.put("/api/v1/provider-settings", headers=user.headers,
                               json={"stt": {"provider": "deepgram"}})
        assert put.status_code == 200, put.text
        put = await client.put("/api/v1/tool-secrets/booking_api_key", headers=user.headers,
                               json={"value": "booking-secret-42"})
        assert put.status_code in (200, 201), put.text
        hook = (await client.post("/api/v1/webhooks", headers=user.headers, json={
            "url": f"{backend.http_url}/hook", "events": ["call.ended", "call.analyzed"],
        })).json()
        workflow_id = await publish_workflow(client, user.headers,
                                             _workflow(f"{backend.http_url}/tables"))
        caller, call_id = await connect(client, user.headers, workflow_id)
        try:
            await caller.wait_for_speech(frames=25, timeout=30)  # greeting
            await caller.wait_for_silence(frames=40)
            for text in (ASK, PARTY, BYE):
                mark = len(caller.levels)
                await caller.say(text)
                try:
                    await caller.wait_for_speech(start=mark, frames=15, timeout=40)
                except AssertionError as exc:  # say where the call was, not only "no speech"
                    raise AssertionError(f"after {text!r}: {exc}; "
                                         f"{await _call_state(client, user.headers, call_id)}") from None
                await caller.wait_for_silence(frames=40)
            call = await wait_for_end(client, user.headers, call_id)
        finally:
            await caller.close()

        async with asyncio.timeout(30):
            while {json.loads(b)["type"] for _, b in backend.events} != {"call.ended",
                                                                         "call.analyzed"}:
                await asyncio.sleep(0.1)

    # The agent, not the caller, ended the call, after walking start -> booking -> bye.
    assert call["end_reason"] == "agent_ended", [(t["speaker"], t["text"], t["node"]) for t in call["turns"]]
    agent_texts = [t["text"] for t in call["turns"] if t["speaker"] == "agent"]
    assert agent_texts[0] == "Hello, this is the booking line."
    assert "Sure. For how many people?" in agent_texts
    assert agent_texts[-1] == "Goodbye."
    tool_turns = [t for t in call["turns"] if t["speaker"] == "tool"]
    assert [t["text"] for t in tool_turns] == ["check_tables"]
    assert backend.tool_calls == [{"party": "a table for four people"}]
    assert backend.tool_auth == ["Bearer booking-secret-42"]  # stored secret, filled per call
    assert call["engine"] == "offline-scripted"

    for headers, body in backend.events:
        assert verify(hook["secret"], headers["X-Switchboard-Timestamp"], body,
                      headers["X-Switchboard-Signature"])
    analyzed = next(json.loads(b) for _, b in backend.events
                    if json.loads(b)["type"] == "call.analyzed")
    assert analyzed["data"]["call_id"] == call_id
    assert analyzed["data"]["extracted"]["party"] == backend.tool_calls[0]["party"]
    final = (await client.get(f"/api/v1/calls/{call_id}", headers=user.headers)).json()
    assert final["extracted"] == analyzed["data"]["extracted"]
    assert final["summary"].startswith("Offline summary")
