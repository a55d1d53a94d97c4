"""Scripted offline calls: what each caller says, in which voice, and the path it must take.

Ten callers (espeak voices and speaking rates) spread over the shipped templates, each
phrasing a template's intent a little differently. A call's path is read back from the
server after it ended (``GET /api/v1/calls/{id}``): the ``handoff`` events (nodes reached)
and the tool turns (tool name and arguments), never from timing.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx

#: (espeak voice, words per minute): the ten callers of each transport.
VOICES: tuple[tuple[str, int], ...] = (
    ("en-us+f2", 175), ("en-us", 160), ("en+m3", 175), ("en-us+f4", 170), ("en-us+m1", 170),
    ("en+f3", 165), ("en-us", 185), ("en-us+f2", 160), ("en+m3", 150), ("en-us+m1", 180),
)


#: Seconds between two callers' starts (ten utterances at the same instant would queue in
#: the decoder processes of a small test machine).
STAGGER = 0.5


@dataclass(frozen=True, slots=True)
class Script:
    """One scripted call: the template, the caller's lines, and the path that is right."""

    template: str
    lines: tuple[str, ...]
    expect: tuple[str, ...]  # "node:<id>" and "tool:<name>:<order_number>" steps, in order


#: Ten calls per transport, spread over the four templates (10 calls x 4 templates x 2
#: transports in real time would take minutes; the decoder-level test in
#: tests/integration/pipeline/test_offline_understanding.py runs 10 callers per template).
SCRIPTS: tuple[Script, ...] = (
    Script("order_desk", ("Where is my order?", "It is one two three four."),
           ("node:orders", "tool:lookup_order:1234")),
    Script("order_desk", ("I have a question about my bill.",), ("node:billing",)),
    Script("order_desk", ("I want to check my order.",), ("node:orders",)),
    Script("receptionist", ("I would like to book an appointment.",), ("node:booking",)),
    Script("receptionist", ("When are you open?",), ("node:questions",)),
    Script("receptionist", ("Can I make an appointment?",), ("node:booking",)),
    Script("order_status", ("My order number is one zero zero one.",),
           ("tool:lookup_order:1001",)),
    Script("order_status", ("It is two five eight.",), ("tool:lookup_order:258",)),
    Script("lead_qualification", ("Yes sure go ahead.",), ("node:qualify",)),
    Script("lead_qualification", ("No thanks, I am busy.",), ("node:not_now",)),
)


def path_of(call: dict[str, Any]) -> list[str]:
    """The path a finished call took: nodes reached and tools called, in order."""
    steps: list[tuple[str, str]] = [
        (e["at"], f"node:{e['data'].get('to')}") for e in call["events"] if e["kind"] == "handoff"
    ]
    for turn in call["turns"]:
        tool = turn.get("tool")
        if tool:
            number = (tool.get("arguments") or {}).get("order_number", "")
            steps.append((turn["started_at"], f"tool:{tool['name']}:{number}"))
    return [step for _, step in sorted(steps)]


def heard(call: dict[str, Any]) -> list[str]:
    """What the recogniser heard in the call (its user turns), for failure reports."""
    return [t["text"] for t in call["turns"] if t["speaker"] == "user"]


def took(path: list[str], script: Script, *, numbers: bool = True) -> bool:
    """The call reached every expected step and no node off the script. ``numbers=False``:
    a tool step counts when the tool was called, whatever number it got."""

    def step(s: str) -> str:
        return s if numbers or not s.startswith("tool:") else s.rsplit(":", 1)[0]

    nodes = {s for s in script.expect if s.startswith("node:")}
    wrong = [s for s in path if s.startswith("node:") and s not in nodes]
    taken = {step(s) for s in path}
    return all(step(s) in taken for s in script.expect) and not wrong


def reads_numbers(script: Script) -> bool:
    return any(s.startswith("tool:") for s in script.expect)


@dataclass
class Caller:
    """What a transport's scripted caller can do (WebRTC peer or Twilio media stream)."""

    say: Callable[[str], Awaitable[None]]
    agent_spoke: Callable[[], int]  # a counter of voiced agent audio received so far
    agent_quiet: Callable[[], Awaitable[None]]  # returns once the agent has stopped talking
    user_turns: Callable[[], Awaitable[int]]  # caller turns the call has recorded so far
    hang_up: Callable[[], Awaitable[None]]


async def converse(caller: Caller, script: Script) -> None:
    """Wait out the greeting; say each line, wait until the call recorded it (decoding may
    queue behind other callers) and the agent answered; then hang up."""
    try:
        await _answer(caller, since=0, timeout=60)  # the greeting
        for said, line in enumerate(script.lines, start=1):
            mark = caller.agent_spoke()
            await caller.say(line)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(30):
                    while await caller.user_turns() < said:
                        await asyncio.sleep(0.3)
            await _answer(caller, since=mark, timeout=20)
    finally:
        await caller.hang_up()


async def _answer(caller: Caller, *, since: int, timeout: float) -> None:
    """Wait for the agent to speak after ``since`` and go quiet (no answer: move on)."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(timeout):
            while caller.agent_spoke() <= since:
                await asyncio.sleep(0.05)
            await caller.agent_quiet()


async def user_turns(http: httpx.AsyncClient, headers: dict[str, str], call_id: str) -> int:
    """Caller turns a live call has recorded so far."""
    call = (await http.get(f"/api/v1/calls/{call_id}", headers=headers)).json()
    return sum(t["speaker"] == "user" for t in call.get("turns", []))


async def finished_call(http: httpx.AsyncClient, headers: dict[str, str], call_id: str) -> dict:
    """The call once it has ended (its turns and events are written by then)."""
    async with asyncio.timeout(60):
        while True:
            call = (await http.get(f"/api/v1/calls/{call_id}", headers=headers)).json()
            if call.get("ended_at") is not None:
                return call
            await asyncio.sleep(0.2)
