"""A fake OpenAI API on 127.0.0.1: Chat Completions and Responses, streaming and not.

Tests script what the "model" does, one step per request, in order::

    async with FakeOpenAI() as fake:
        fake.script(say("Hello there."), call("handoff_to_orders"), say("Order desk."))
        client = AsyncOpenAI(api_key="k", base_url=fake.base_url)

Steps: ``say(text)`` streams text in small deltas; ``call(name, args)`` returns one function
(tool) call; ``say(..., hold_seconds=5)`` streams its first delta and then trickles the rest
slowly (for barge-in tests; a dropped connection is counted in ``disconnects``);
``say(..., delay=0.2)`` waits that long before answering (time to first token);
``fail(status)`` answers with an OpenAI-style error. Each step carries token usage, reported
in the final chunk (Chat Completions ``usage``; Responses ``response.completed``). With the
script exhausted the server replies "(script exhausted)". Every request body is kept in
``requests`` for assertions (messages sent, tools offered, ...). ``responder`` may be set to
a function ``(body) -> Step`` to decide from the request instead.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes import LoopbackServer


@dataclass
class Step:
    text: str = ""
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    input_tokens: int = 11
    output_tokens: int = 7
    hold_seconds: float = 0.0
    status: int = 200
    delay: float = 0.0


def say(text: str, *, input_tokens: int = 11, output_tokens: int = 7,
        hold_seconds: float = 0.0, delay: float = 0.0) -> Step:
    return Step(text=text, input_tokens=input_tokens, output_tokens=output_tokens,
                hold_seconds=hold_seconds, delay=delay)


def call(name: str, arguments: dict[str, Any] | None = None, *, text: str = "") -> Step:
    return Step(text=text, calls=[(name, arguments or {})])


def fail(status: int = 500) -> Step:
    return Step(status=status)


def _chunks(text: str, size: int = 6) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] or []


class FakeOpenAI(LoopbackServer):
    def __init__(self, api_key: str | None = None) -> None:
        super().__init__()
        self.api_key = api_key
        self.steps: deque[Step] = deque()
        self.requests: list[dict[str, Any]] = []
        self.paths: list[str] = []
        self.disconnects = 0
        self.responder: Callable[[dict[str, Any]], Step] | None = None
        self._ids = 0
        self.app.router.add_post("/v1/chat/completions", self._chat)
        self.app.router.add_post("/v1/responses", self._responses)

    @property
    def base_url(self) -> str:
        return f"{self.http_url}/v1"

    def script(self, *steps: Step) -> None:
        self.steps.extend(steps)

    def _next_id(self, prefix: str) -> str:
        self._ids += 1
        return f"{prefix}_{self._ids}"

    async def _take(self, request: web.Request) -> tuple[dict[str, Any], Step | web.Response]:
        self.mark("llm_request")
        body = await request.json()
        self.requests.append(body)
        self.paths.append(request.path)
        if self.api_key and request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return body, self._error(401, "invalid_api_key")
        if self.responder is not None:
            step = self.responder(body)
        else:
            step = self.steps.popleft() if self.steps else say("(script exhausted)")
        if step.status != 200:
            return body, self._error(step.status, "server_error")
        if step.delay:
            await asyncio.sleep(step.delay)
        return body, step

    @staticmethod
    def _error(status: int, code: str) -> web.Response:
        return web.json_response(
            {"error": {"message": f"fake error {status}", "type": code, "code": code}},
            status=status,
        )

    async def _sse(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        return response

    async def _write(self, response: web.StreamResponse, data: dict[str, Any] | str,
                     event: str | None = None) -> bool:
        payload = data if isinstance(data, str) else json.dumps(data)
        line = (f"event: {event}\n" if event else "") + f"data: {payload}\n\n"
        try:
            await response.write(line.encode())
        except (ConnectionResetError, RuntimeError):
            self.disconnects += 1
            return False
        return True

    async def _pace(self, step: Step, index: int, total: int) -> None:
        if step.hold_seconds and index > 0:
            await asyncio.sleep(step.hold_seconds / max(total, 1))

    # -- Chat Completions -------------------------------------------------------------
    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body, step = await self._take(request)
        if isinstance(step, web.Response):
            return step
        cid, model = self._next_id("chatcmpl"), body.get("model", "fake")
        usage = {"prompt_tokens": step.input_tokens, "completion_tokens": step.output_tokens,
                 "total_tokens": step.input_tokens + step.output_tokens}
        calls = [(self._next_id("call"), n, a) for n, a in step.calls]
        finish = "tool_calls" if calls else "stop"
        if not body.get("stream"):
            message: dict[str, Any] = {"role": "assistant", "content": step.text or None}
            if calls:
                message["tool_calls"] = [
                    {"id": i, "type": "function",
                     "function": {"name": n, "arguments": json.dumps(a)}} for i, n, a in calls
                ]
            return web.json_response({
                "id": cid, "object": "chat.completion", "created": int(time.time()),
                "model": model, "usage": usage,
                "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            })

        def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
            return {"id": cid, "object": "chat.completion.chunk", "created": 0, "model": model,
                    "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}]}

        response = await self._sse(request)
        if not await self._write(response, chunk({"role": "assistant", "content": ""})):
            return response
        pieces = _chunks(step.text)
        for i, piece in enumerate(pieces):
            await self._pace(step, i, len(pieces))
            if not await self._write(response, chunk({"content": piece})):
                return response
        for index, (call_id, name, args) in enumerate(calls):
            start = {"index": index, "id": call_id, "type": "function",
                     "function": {"name": name, "arguments": ""}}
            await self._write(response, chunk({"tool_calls": [start]}))
            for piece in _chunks(json.dumps(args), 8):
                await self._write(response, chunk(
                    {"tool_calls": [{"index": index, "function": {"arguments": piece}}]}))
        await self._write(response, chunk({}, finish))
        if (body.get("stream_options") or {}).get("include_usage"):
            await self._write(response, {"id": cid, "object": "chat.completion.chunk",
                                         "created": 0, "model": model, "choices": [],
                                         "usage": usage})
        await self._write(response, "[DONE]")
        return response

    # -- Responses --------------------------------------------------------------------
    def _response_obj(self, rid: str, model: str, status: str, output: list[Any],
                      step: Step | None) -> dict[str, Any]:
        obj: dict[str, Any] = {
            "id": rid, "object": "response", "created_at": int(time.time()), "model": model,
            "status": status, "output": output, "parallel_tool_calls": True,
            "tool_choice": "auto", "tools": [], "top_p": 1.0, "temperature": 1.0,
            "error": None, "incomplete_details": None, "instructions": None, "metadata": {},
        }
        if step is not None:
            obj["usage"] = {
                "input_tokens": step.input_tokens, "output_tokens": step.output_tokens,
                "total_tokens": step.input_tokens + step.output_tokens,
                "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
                "output_tokens_details": {"reasoning_tokens": 0},
            }
        return obj

    async def _responses(self, request: web.Request) -> web.StreamResponse:
        body, step = await self._take(request)
        if isinstance(step, web.Response):
            return step
        rid, model = self._next_id("resp"), body.get("model", "fake")
        output: list[dict[str, Any]] = []
        msg_id = self._next_id("msg")
        if step.text:
            output.append({"id": msg_id, "type": "message", "role": "assistant",
                           "status": "completed",
                           "content": [{"type": "output_text", "text": step.text,
                                        "annotations": [], "logprobs": []}]})
        for name, args in step.calls:
            call_id = self._next_id("call")
            output.append({"id": "fc_" + call_id, "type": "function_call", "call_id": call_id,
                           "name": name, "arguments": json.dumps(args), "status": "completed"})
        if not body.get("stream"):
            return web.json_response(self._response_obj(rid, model, "completed", output, step))

        response = await self._sse(request)
        seq = 0

        async def emit(kind: str, **fields: Any) -> bool:
            nonlocal seq
            seq += 1
            return await self._write(response, {"type": kind, "sequence_number": seq, **fields},
                                     event=kind)

        if not await emit("response.created",
                          response=self._response_obj(rid, model, "in_progress", [], None)):
            return response
        for index, item in enumerate(output):
            if item["type"] == "message":
                await emit("response.output_item.added", output_index=index,
                           item={**item, "status": "in_progress", "content": []})
                part = {"type": "output_text", "text": "", "annotations": []}
                await emit("response.content_part.added", item_id=item["id"],
                           output_index=index, content_index=0, part=part)
                pieces = _chunks(step.text)
                for i, piece in enumerate(pieces):
                    await self._pace(step, i, len(pieces))
                    if not await emit("response.output_text.delta", item_id=item["id"],
                                      output_index=index, content_index=0, delta=piece,
                                      logprobs=[]):
                        return response
                await emit("response.output_text.done", item_id=item["id"], output_index=index,
                           content_index=0, text=step.text, logprobs=[])
                await emit("response.content_part.done", item_id=item["id"],
                           output_index=index, content_index=0,
                           part={**part, "text": step.text})
            else:
                await emit("response.output_item.added", output_index=index,
                           item={**item, "arguments": "", "status": "in_progress"})
                await emit("response.function_call_arguments.delta", item_id=item["id"],
                           output_index=index, delta=item["arguments"])
                await emit("response.function_call_arguments.done", item_id=item["id"],
                           output_index=index, arguments=item["arguments"], name=item["name"])
            await emit("response.output_item.done", output_index=index, item=item)
        await emit("response.completed",
                   response=self._response_obj(rid, model, "completed", output, step))
        return response
