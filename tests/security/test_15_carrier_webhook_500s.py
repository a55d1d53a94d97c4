"""Finding 15 (carrier webhooks, unauthenticated): a NUL in the call id of any carrier's
voice webhook reached PostgreSQL (500); deeply nested JSON to the Telnyx and Vonage
webhooks raised ``RecursionError`` (500). Each is now a 400 (``WebhookRejected``) before
anything touches the database."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import httpx
import pytest

pytestmark = pytest.mark.integration

NUL_ID = "CA12\x0034"
TO = "+14155550100"
DEEP = b"[" * 5000 + b"]" * 5000

FORM = {"content-type": "application/x-www-form-urlencoded"}
JSON = {"content-type": "application/json"}


def _requests() -> dict[str, dict]:
    return {
        "twilio": {"method": "POST", "headers": FORM,
                   "content": urlencode({"CallSid": NUL_ID, "To": TO, "From": TO}).encode()},
        "telnyx-form": {"method": "POST", "headers": FORM,
                        "content": urlencode({"CallSid": NUL_ID, "To": TO}).encode()},
        "telnyx-json": {"method": "POST", "headers": JSON, "content": json.dumps(
            {"data": {"event_type": "call.initiated",
                      "payload": {"call_control_id": NUL_ID, "to": TO}}}).encode()},
        "plivo": {"method": "POST", "headers": FORM,
                  "content": urlencode({"CallUUID": NUL_ID, "To": TO[1:]}).encode()},
        "vonage": {"method": "POST", "headers": JSON,
                   "content": json.dumps({"uuid": NUL_ID, "to": TO[1:]}).encode()},
        "exotel": {"method": "GET", "params": {"CallSid": NUL_ID, "CallTo": TO}},
    }  # fmt: skip


@pytest.mark.parametrize("case", sorted(_requests()))
async def test_nul_in_call_id_is_a_400(client: httpx.AsyncClient, case: str) -> None:
    carrier = case.split("-")[0]
    r = await client.request(url=f"/telephony/{carrier}/voice", **_requests()[case])
    assert r.status_code == 400, r.text


@pytest.mark.parametrize("carrier", ["telnyx", "vonage"])
@pytest.mark.parametrize("body", [DEEP, b'{"data": ' + DEEP + b"}", b'{"a":' * 3000 + b"1" + b"}" * 3000])
async def test_deeply_nested_json_is_a_400(client: httpx.AsyncClient, carrier: str, body: bytes) -> None:
    r = await client.post(f"/telephony/{carrier}/voice", content=body, headers=JSON)
    assert r.status_code == 400, r.text


@pytest.mark.parametrize("carrier", ["twilio", "telnyx", "plivo", "vonage", "exotel"])
async def test_overlong_or_binary_call_ids_are_400(client: httpx.AsyncClient, carrier: str) -> None:
    ids = {"telnyx": "call_control_id", "vonage": "uuid"}
    for bad in ("x" * 5000, "CA\u202e\u0007", "<script>"):
        if carrier in ids:
            body = json.dumps({"data": {"event_type": "call.initiated",
                                        "payload": {"call_control_id": bad, "to": TO}}}
                              if carrier == "telnyx" else {"uuid": bad, "to": TO[1:]})  # fmt: skip
            r = await client.post(f"/telephony/{carrier}/voice", content=body, headers=JSON)
        elif carrier == "exotel":
            r = await client.get(f"/telephony/{carrier}/voice", params={"CallSid": bad, "CallTo": TO})
        else:
            field = "CallUUID" if carrier == "plivo" else "CallSid"
            r = await client.post(f"/telephony/{carrier}/voice", data={field: bad, "To": TO})
        assert r.status_code == 400, (bad, r.text)
