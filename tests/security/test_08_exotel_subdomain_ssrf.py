"""Finding 8: the Exotel ``subdomain`` credential is tenant input and became the API host:
``10.0.0.5:8443/#`` made the server POST the account's credentials there, and the 502
echoed the upstream error (telling open from closed ports).

Only Exotel's API hosts are accepted (when saved, and again when used); carrier failures
are a stable code, never upstream text."""

from __future__ import annotations

import socket

import httpx
import pytest

from telephony.contract import CarrierApiError, DialRequest
from telephony.exotel import ExotelProvider

pytestmark = pytest.mark.integration

HOSTILE = ["10.0.0.5:8443/#", "127.0.0.1:9", "api.exotel.com.evil.test", "evil.test/api.exotel.com",
           "user@api.exotel.com", "api.exotel.com:8443", "169.254.169.254", "localhost"]  # fmt: skip
CREDS = {"account_sid": "acme", "api_key": "k", "api_token": "t", "app_id": "1"}
REQUEST = DialRequest("+14155550123", "+14155550199", "https://sb.example/a", "https://sb.example/s")


@pytest.mark.parametrize("subdomain", HOSTILE)
async def test_hostile_subdomain_is_refused_when_saved(
    client: httpx.AsyncClient, make_user, subdomain: str
) -> None:
    user = await make_user()
    r = await client.post("/api/v1/carriers", headers=user.headers, json={
        "carrier": "exotel", "name": "x", "credentials": {**CREDS, "subdomain": subdomain}})  # fmt: skip
    assert r.status_code == 422, r.text
    assert r.json()["error"]["details"][0]["pointer"] == "/body/credentials/subdomain"


@pytest.mark.parametrize("subdomain", ["api.exotel.com", "api.in.exotel.com", "@api.in.exotel.com"])
async def test_exotel_hosts_are_accepted(client: httpx.AsyncClient, make_user, subdomain: str) -> None:
    user = await make_user()
    r = await client.post("/api/v1/carriers", headers=user.headers, json={
        "carrier": "exotel", "name": "x", "credentials": {**CREDS, "subdomain": subdomain}})  # fmt: skip
    assert r.status_code == 201, r.text


async def test_a_stored_hostile_subdomain_is_never_contacted() -> None:
    """A subdomain stored before hosts were checked: no request leaves, a stable error."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.5)
    port = listener.getsockname()[1]
    try:
        provider = ExotelProvider({**CREDS, "subdomain": f"127.0.0.1:{port}/#"})
        with pytest.raises(CarrierApiError) as refused:
            await provider.dial(REQUEST)
        assert refused.value.code == "carrier_misconfigured" and str(refused.value) == "carrier_misconfigured"
        with pytest.raises(TimeoutError):
            listener.accept()  # nobody connected
    finally:
        listener.close()


async def test_failures_do_not_tell_open_from_closed_ports() -> None:
    """Operator overrides may point anywhere; what a caller sees is the same stable code."""
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    closed_port = closed.getsockname()[1]
    closed.close()
    listener = socket.create_server(("127.0.0.1", 0))  # open port, never answers HTTP
    try:
        seen = []
        for base in (f"http://127.0.0.1:{closed_port}", f"http://127.0.0.1:{listener.getsockname()[1]}"):
            provider = ExotelProvider(CREDS, api_base_url=base)
            with pytest.raises(CarrierApiError) as failed:
                import telephony.rest as rest

                old, rest.TIMEOUT_SECONDS = rest.TIMEOUT_SECONDS, 0.5
                try:
                    await provider.dial(REQUEST)
                finally:
                    rest.TIMEOUT_SECONDS = old
            seen.append(str(failed.value))
        assert seen == ["carrier_unreachable", "carrier_unreachable"]
    finally:
        listener.close()


async def test_a_failed_dial_answers_a_generic_502(client: httpx.AsyncClient, make_user) -> None:
    """The session server's Twilio API is unreachable (no internet in tests): the caller sees
    a fixed message, never the resolver's or socket's error text."""
    user = await make_user()
    workflow = {"nodes": [{"id": "start", "type": "start", "greeting": "Hi"},
                          {"id": "bye", "type": "end", "say": "Bye"}],
                "edges": [{"from": "start", "to": "bye", "condition": "bye"}]}  # fmt: skip
    wf = await client.post(
        "/api/v1/workflows", headers=user.headers, json={"name": "w", "definition": workflow}
    )
    assert (await client.post(f"/api/v1/workflows/{wf.json()['id']}/publish", json={},
                              headers=user.headers)).status_code == 201  # fmt: skip
    acct = await client.post(
        "/api/v1/carriers",
        headers=user.headers,
        json={
            "carrier": "twilio",
            "name": "t",
            "credentials": {"account_sid": "AC" + "4" * 32, "auth_token": "x"},
        },
    )
    number = await client.post("/api/v1/phone-numbers", headers=user.headers, json={
        "number": "+14155550142", "carrier_account_id": acct.json()["id"]})  # fmt: skip
    assert number.status_code == 201, number.text
    r = await client.post("/api/v1/calls", headers=user.headers, json={
        "to": "+14155550123", "workflow_id": wf.json()["id"]})  # fmt: skip
    assert r.status_code == 502, r.text
    error = r.json()["error"]
    assert (error["code"], error["message"]) == ("carrier_error", "the carrier did not place the call")
