"""Safe JSON input: one parser for every JSON request body, and the checks every request
field gets before any handler (or the database) sees it.

* Nesting is bounded: a body nested deeper than ``MAX_BODY_DEPTH`` levels is refused (Python's
  parser would otherwise raise ``RecursionError`` somewhere past ~1,000 levels, and a deep
  value stored as JSONB breaks every later read of it).
* No NUL (``\\u0000``) in any string or key: PostgreSQL text cannot hold one, so it is a 422
  naming the field instead of a 500 at the insert.
* ``NaN``/``Infinity`` (which Python's parser accepts but JSON does not) are refused.
* Integers given to top-level fields and ``{n:int}`` path parameters must fit a 32-bit
  signed integer (every integer column is ``integer``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from server.errors import ApiError, json_pointer, unprocessable

MAX_BODY_DEPTH = 64
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def parse_json(raw: bytes, *, location: str = "body") -> Any:
    """Parse ``raw`` as strict JSON, then ``check_json`` it; 400 when it does not parse."""
    try:
        data = json.loads(raw, parse_constant=_no_constants)
    except RecursionError:
        raise _invalid(location, f"JSON nested deeper than {MAX_BODY_DEPTH} levels") from None
    except (UnicodeDecodeError, ValueError) as exc:  # JSONDecodeError is a ValueError
        raise _invalid(location, f"request {location} is not valid JSON: {exc}") from None
    check_json(data, location=location)
    return data


def _invalid(location: str, message: str) -> ApiError:
    return ApiError(400, "invalid_json", message,
                    [{"pointer": json_pointer(location), "code": "invalid_json",
                      "message": message}])


def check_json(value: Any, *, location: str = "body", max_depth: int = MAX_BODY_DEPTH) -> None:
    """422 for a value nested deeper than ``max_depth`` or holding a NUL character (without
    recursion: the walk itself must not be the thing that overflows)."""
    stack: list[tuple[Any, int, tuple[Any, ...]]] = [(value, 1, ())]
    while stack:
        item, depth, path = stack.pop()
        if isinstance(item, dict | list):
            if depth > max_depth:
                raise unprocessable(location, *path, code="nesting_too_deep",
                                    message=f"nested deeper than {max_depth} levels")
            entries: Iterable[tuple[Any, Any]] = (
                item.items() if isinstance(item, dict) else enumerate(item)
            )
            children = []
            for key, child in entries:
                if isinstance(key, str) and "\x00" in key:
                    raise _nul(location, *path, key)
                children.append((child, depth + 1, (*path, key)))
            stack.extend(reversed(children))  # report the first problem in document order
        elif isinstance(item, str) and "\x00" in item:
            raise _nul(location, *path)


def _nul(location: str, *path: object) -> ApiError:
    return unprocessable(location, *path, code="nul_character",
                         message="text may not contain the NUL character (\\u0000)")


def check_strings(values: Mapping[str, Any], *, location: str) -> None:
    """No NUL in query or path values (and their names)."""
    for key, value in values.items():
        if "\x00" in key or (isinstance(value, str) and "\x00" in value):
            raise _nul(location, key)


def check_int32(values: Mapping[str, Any], *, location: str) -> None:
    """Every top-level integer of a request part fits PostgreSQL's ``integer``."""
    for key, value in values.items():
        if isinstance(value, int) and not isinstance(value, bool) and not (
            INT32_MIN <= value <= INT32_MAX
        ):
            raise unprocessable(location, key, code="int_out_of_range",
                                message=f"must be between {INT32_MIN} and {INT32_MAX}")
