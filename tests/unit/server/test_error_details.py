"""One error details shape: {pointer, code, message}, whoever raises the error."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError, field_validator

from server.errors import ApiError, ErrorDetail, conflict, json_pointer, validation_error
from server.json_body import MAX_BODY_DEPTH, check_int32, parse_json


class _Body(BaseModel):
    email: str
    items: list[int]


def test_pointers_escape_per_rfc_6901() -> None:
    assert json_pointer("body", "a/b", "c~d", 0) == "/body/a~1b/c~0d/0"


def test_every_details_form_renders_the_same_shape() -> None:
    legacy = ApiError(422, "validation_error", "bad", [{"field": "body.email"}])
    assert legacy.details == [ErrorDetail("/body/email", "validation_error", "bad")]
    single = ApiError(409, "conflict", "taken", {"pointer": "/body/number", "code": "taken"})
    assert single.details == [ErrorDetail("/body/number", "taken", "taken")]
    assert conflict("taken", "email").details[0].pointer == "/body/email"
    with pytest.raises(ValidationError) as caught:
        _Body.model_validate({"email": 1, "items": ["x"]})
    error = validation_error(caught.value, "body")
    assert [d.pointer for d in error.details] == ["/body/email", "/body/items/0"]
    assert all(d.code and d.message for d in error.details)


class _Number(BaseModel):
    number: str

    @field_validator("number")
    @classmethod
    def _e164(cls, value: str) -> str:
        raise ValueError("not an E.164 number")


def test_a_validators_message_is_its_own_sentence() -> None:
    with pytest.raises(ValidationError) as caught:
        _Number.model_validate({"number": "12"})
    detail = validation_error(caught.value, "body").details[0]
    assert (detail.pointer, detail.code) == ("/body/number", "value_error")
    assert detail.message == "not an E.164 number"  # pydantic says "Value error, not an ..."


def _status(raw: bytes) -> tuple[int, str]:
    with pytest.raises(ApiError) as caught:
        parse_json(raw)
    return caught.value.status, caught.value.details[0].pointer


def test_parse_json_bounds_depth_and_refuses_nul_and_constants() -> None:
    assert parse_json(b"[" * MAX_BODY_DEPTH + b"]" * MAX_BODY_DEPTH) is not None
    assert _status(b"[" * (MAX_BODY_DEPTH + 1) + b"]" * (MAX_BODY_DEPTH + 1))[0] == 422
    assert _status(b"[" * 100_000) == (400, "/body")
    assert _status(b'{"a": [1, {"b\\u0000": 2}]}') == (422, "/body/a/1/b\x00")
    assert _status(b'{"name": "x\\u0000", "z": "\\u0000"}') == (422, "/body/name")
    assert _status(b'{"n": NaN}')[0] == 400


def test_int32_bounds() -> None:
    check_int32({"v": 2**31 - 1, "flag": True}, location="body")
    with pytest.raises(ApiError) as caught:
        check_int32({"v": 2**31}, location="path")
    assert caught.value.details[0].pointer == "/path/v"
