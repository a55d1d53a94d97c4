"""The OpenAI client the agent's chat-completions model uses: the SDK's, minus the request
transform of the conversation on every turn and its pure-Python parse of every streamed
chunk.

``chat.completions.create`` passes its whole body through ``async_maybe_transform``, which
walks every message against the ``ChatCompletionMessageParam`` union: each message is
transformed once per member type of the union, field by field, with ``typing``
introspection at every step. The transform renames aliased keys and formats dates and
files; no type under ``CompletionCreateParams`` has such an annotation (checked once per
process, below), so for a conversation of plain JSON values it returns what it was given,
at a cost that grows with the conversation: 51 % of an agent turn's CPU with a 21-message
history (BENCHMARKS.md, "Per-call CPU work", step 9).

``LeanOpenAI`` sends ``messages`` and ``tools`` as they are (through ``extra_body``, which
the SDK merges into the JSON body after the transform) when both hold only plain JSON
values and the SDK's types carry no transform; anything else (a pydantic object, a tuple,
an SDK that adds an alias) takes the SDK's path unchanged.

Each streamed chunk of the reply (a token or a few) becomes a ``ChatCompletionChunk``
through the SDK's ``construct_type``: a recursive, validation-free build in Python with
``typing`` introspection per field, ~70 µs per chunk, on the event loop that paces every
call's audio. ``LeanOpenAI`` validates the chunk with pydantic-core instead (~3.5 µs, the
same model with the same fields set); a chunk off the schema (a provider's ``null`` where
the schema has a number, say), which validation refuses, takes the SDK's lenient build
as before, so no reply the SDK accepted is refused (step 13 in BENCHMARKS.md).
"""

from __future__ import annotations

import functools
import typing
from collections.abc import Mapping
from functools import cached_property
from typing import Any

import pydantic
from openai import AsyncOpenAI
from openai._utils import is_typeddict
from openai._utils._transform import PropertyInfo
from openai.resources.chat import AsyncChat
from openai.resources.chat.completions import AsyncCompletions
from openai.types.chat import ChatCompletionChunk, completion_create_params

#: The body fields sent untransformed: the ones that grow with the conversation.
UNTRANSFORMED = ("messages", "tools")
_SCALARS = (str, int, float, bool, type(None))
#: Response types parsed by validation first: the ones built once per streamed chunk.
VALIDATED: frozenset[type[pydantic.BaseModel]] = frozenset({ChatCompletionChunk})


def _carries_transform(annotation: Any, seen: set[int]) -> bool:
    """Whether ``annotation`` (or a type inside it) has a ``PropertyInfo`` that renames a
    key or formats a value: what the SDK's transform would act on."""
    if id(annotation) in seen:
        return False
    seen.add(id(annotation))
    if typing.get_origin(annotation) is typing.Annotated:
        base, *extras = typing.get_args(annotation)
        if any(isinstance(x, PropertyInfo) and (x.alias or x.format) for x in extras):
            return True
        return _carries_transform(base, seen)
    if is_typeddict(annotation):
        try:
            hints = typing.get_type_hints(annotation, include_extras=True)
        except Exception:  # unresolvable: assume the worst, the SDK's path is kept
            return True
        return any(_carries_transform(h, seen) for h in hints.values())
    return any(_carries_transform(a, seen) for a in typing.get_args(annotation))


@functools.cache
def transform_is_identity() -> bool:
    """True when no type of the chat-completions request body carries a transform (the
    installed SDK's types, checked once)."""
    body = completion_create_params.CompletionCreateParamsStreaming
    return not _carries_transform(body, set())


def plain_json(value: object) -> bool:
    """Whether ``value`` is made only of dicts with string keys, lists and JSON scalars."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, _SCALARS):
            continue
        if type(item) is dict:
            if not all(type(k) is str for k in item):
                return False
            stack.extend(item.values())
        elif type(item) is list:
            stack.extend(item)
        else:
            return False
    return True


def untransformed(kwargs: dict[str, Any]) -> dict[str, Any]:
    """``create`` keyword arguments with ``messages`` and ``tools`` moved into
    ``extra_body`` when that sends the same JSON; otherwise ``kwargs`` as given."""
    extra = kwargs.get("extra_body")
    if extra is not None and not isinstance(extra, Mapping):
        return kwargs
    moved = {k: kwargs[k] for k in UNTRANSFORMED if type(kwargs.get(k)) is list}
    if not moved or not transform_is_identity() or not plain_json(moved):
        return kwargs
    out = dict(kwargs)
    for key in moved:
        del out[key]
    if "messages" in moved:
        out["messages"] = []  # required by the signature; the extra body's list replaces it
    out["extra_body"] = {**moved, **(extra or {})}  # an operator's extra_body still wins
    return out


class LeanCompletions(AsyncCompletions):
    async def create(self, **kwargs: Any) -> Any:  # type: ignore[override]
        return await super().create(**untransformed(kwargs))


class LeanChat(AsyncChat):
    @cached_property
    def completions(self) -> AsyncCompletions:  # type: ignore[override]
        return LeanCompletions(self._client)


class LeanOpenAI(AsyncOpenAI):
    """``AsyncOpenAI`` whose ``chat.completions.create`` skips the identity transform of
    the conversation and whose streamed chunks are validated rather than built field by
    field (see the module docstring)."""

    @cached_property
    def chat(self) -> AsyncChat:  # type: ignore[override]
        return LeanChat(self)

    def _process_response_data(self, *, data: object, cast_to: Any, response: Any) -> Any:
        if cast_to in VALIDATED and type(data) is dict and not self._strict_response_validation:
            try:
                return cast_to.model_validate(data)
            except pydantic.ValidationError:
                pass  # off the schema: the SDK's lenient build below
        return super()._process_response_data(data=data, cast_to=cast_to, response=response)
