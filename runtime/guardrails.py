"""Guardrails: keep replies speakable, and a hook for organizations to screen caller input.

``SpeakableFilter`` is the output guardrail. It works on the stream itself (a guardrail that
only looked at the finished reply would run after the words were already spoken): it strips
markdown (emphasis, headings, bullets, code, links → their text) and bounds the reply length,
cutting at a sentence end. The session stores exactly what passed the filter in history.

``input_guardrail`` wraps an organization's check ``async (text) -> refusal | None`` as an
openai-agents ``InputGuardrail`` that runs before the model; a refusal is spoken instead.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from agents import Agent, GuardrailFunctionOutput, InputGuardrail, RunContextWrapper

InputCheck = Callable[[str], Awaitable[str | None]]

DEFAULT_MAX_REPLY_CHARS = 600
_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_HEADING = re.compile(r"(^|\n)\s*#{1,6}\s*")
_BULLET = re.compile(r"(^|\n)\s*[-*+•]\s+")
_MARKS = re.compile(r"```[a-z]*|[*`~]+|(?<!\w)_+|_+(?!\w)")
_SPACES = re.compile(r"[ \t]*\n+[ \t]*|[ \t]{2,}")
_SENTENCE_END = re.compile(r"[.!?](?=\s|$)")


def clean_markdown(text: str) -> str:
    text = _LINK.sub(r"\1", text)
    text = _HEADING.sub(r"\1", text)
    text = _BULLET.sub(r"\1", text)
    text = _MARKS.sub("", text)
    return _SPACES.sub(" ", text)


class SpeakableFilter:
    """Streamed text in, speakable text out (see module docstring).

    Words are released as soon as they are complete, except near the length bound, where
    text is held back to a sentence end so a cut reply still ends on a full sentence.
    """

    def __init__(self, max_chars: int = DEFAULT_MAX_REPLY_CHARS):
        self.max_chars = max_chars
        self.truncated = False
        self._tail = min(150, max_chars // 3)
        self._pending = ""  # raw text not yet at a word boundary
        self._held = ""  # cleaned text held back near the bound
        self._emitted = 0

    def feed(self, delta: str) -> str:
        if self.truncated:
            return ""
        self._pending += delta
        # Only release whole words, and never half a link: markdown may span deltas.
        cut = max(self._pending.rfind(" "), self._pending.rfind("\n"))
        if cut < 0 or self._pending.count("[") > self._pending.count(")"):
            return ""
        ready, self._pending = self._pending[: cut + 1], self._pending[cut + 1 :]
        self._held += clean_markdown(ready)
        return self._release(final=False)

    def flush(self) -> str:
        if self.truncated:
            return ""
        ready, self._pending = self._pending, ""
        self._held += clean_markdown(ready)
        return self._release(final=True)

    def _release(self, *, final: bool) -> str:
        held = self._held.lstrip() if self._emitted == 0 else self._held
        room = self.max_chars - self._emitted
        if len(held) > room:
            ends = [m.end() for m in _SENTENCE_END.finditer(held, 0, room)]
            if ends:
                cut = ends[-1]
            elif self._emitted == 0:
                cut = max(held.rfind(" ", 0, room), 0)
            else:
                cut = 0
            self.truncated = True
        elif final or self._emitted + len(held) <= self.max_chars - self._tail:
            cut = len(held)
        else:
            ends = [m.end() for m in _SENTENCE_END.finditer(held)]
            cut = ends[-1] if ends else 0
        out, self._held = held[:cut], held[cut:]
        if self.truncated:
            self._held = ""
        self._emitted += len(out)
        return out


def input_guardrail(check: InputCheck) -> InputGuardrail[Any]:
    async def run(
        ctx: RunContextWrapper[Any], agent: Agent[Any], items: str | list[Any]
    ) -> GuardrailFunctionOutput:
        text = items if isinstance(items, str) else _last_user_text(items)
        refusal = await check(text)
        return GuardrailFunctionOutput(output_info=refusal, tripwire_triggered=refusal is not None)

    return InputGuardrail(guardrail_function=run, name="organization_input_check",
                          run_in_parallel=False)


def _last_user_text(items: list[Any]) -> str:
    for item in reversed(items):
        if isinstance(item, dict) and item.get("role") == "user":
            content = item.get("content")
            return content if isinstance(content, str) else str(content)
    return ""


def phrase_check(phrases: list[str], refusal: str) -> InputCheck | None:
    """An input check refusing turns that contain any of ``phrases`` (case-insensitive)."""
    lowered = [p.lower() for p in phrases if p.strip()]
    if not lowered:
        return None

    async def check(text: str) -> str | None:
        said = text.lower()
        return refusal if any(p in said for p in lowered) else None

    return check


def combine_checks(*checks: InputCheck | None) -> InputCheck | None:
    """The first refusal of several checks (None when there are no checks)."""
    active = [c for c in checks if c is not None]
    if not active:
        return None
    if len(active) == 1:
        return active[0]

    async def check(text: str) -> str | None:
        for one in active:
            refusal = await one(text)
            if refusal is not None:
                return refusal
        return None

    return check
