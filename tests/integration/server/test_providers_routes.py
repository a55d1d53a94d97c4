"""Provider credential and provider settings routes: write-only keys, encryption, tenancy."""

from __future__ import annotations

import uuid

import asyncpg
import pytest

from db import provider_credentials as creds_db
from pipeline.providers import ProviderSettings
from server.calls.org_context import load_call_providers
from tests.members import add_member

SECRET = "dg_live_abcdefghijklmnop_WXYZ"


async def test_put_stores_the_key_encrypted_and_never_returns_it(client, make_user, server):
    owner = await make_user()
    put = await client.put(
        "/api/v1/provider-credentials/deepgram",
        json={"api_key": SECRET, "base_url": "wss://dg.example.com/"},
        headers=owner.headers,
    )
    assert put.status_code == 200, put.text
    body = put.json()
    assert body["provider"] == "deepgram"
    assert body["key_hint"] == "WXYZ"
    assert body["base_url"] == "wss://dg.example.com"
    assert SECRET not in put.text

    listed = await client.get("/api/v1/provider-credentials", headers=owner.headers)
    assert listed.status_code == 200
    assert [c["provider"] for c in listed.json()] == ["deepgram"]
    assert SECRET not in listed.text
    one = await client.get("/api/v1/provider-credentials/deepgram", headers=owner.headers)
    assert one.status_code == 200 and SECRET not in one.text

    # At rest: the column holds a ciphertext, not the key, and it decrypts to the key.
    conn = await asyncpg.connect(server.services.settings.database_url)
    try:
        raw = await conn.fetchval(
            "SELECT api_key_ciphertext FROM provider_credentials"
            " WHERE organization_id = $1 AND provider = 'deepgram'",
            uuid.UUID(owner.organization_id),
        )
        row_text = await conn.fetchval(
            "SELECT row_to_json(p)::text FROM provider_credentials p"
            " WHERE organization_id = $1",
            uuid.UUID(owner.organization_id),
        )
    finally:
        await conn.close()
    assert SECRET.encode() not in bytes(raw)
    assert SECRET not in row_text
    assert server.services.secret_box.decrypt(raw) == SECRET


async def test_replacing_and_deleting_a_key(client, make_user, server):
    owner = await make_user()
    url = "/api/v1/provider-credentials/openai"
    first = await client.put(url, json={"api_key": "sk-first-key-0001"}, headers=owner.headers)
    assert first.status_code == 200
    second = await client.put(url, json={"api_key": "sk-second-key-0002"}, headers=owner.headers)
    assert second.json()["key_hint"] == "0002"
    stored = await creds_db.load_decrypted(
        server.services.db, uuid.UUID(owner.organization_id), server.services.secret_box
    )
    assert stored["openai"].api_key == "sk-second-key-0002"

    deleted = await client.delete(url, headers=owner.headers)
    assert deleted.status_code == 204
    assert (await client.get(url, headers=owner.headers)).status_code == 404
    assert (await client.delete(url, headers=owner.headers)).status_code == 404


async def test_another_organizations_credential_is_a_404(client, make_user, server):
    alice = await make_user()
    bob = await make_user()
    url = "/api/v1/provider-credentials/elevenlabs"
    put = await client.put(url, json={"api_key": "xi-alice-secret-1234"}, headers=alice.headers)
    assert put.status_code == 200

    assert (await client.get(url, headers=bob.headers)).status_code == 404
    assert (await client.delete(url, headers=bob.headers)).status_code == 404
    assert (await client.get("/api/v1/provider-credentials", headers=bob.headers)).json() == []
    # Bob's delete did not touch Alice's key, and her calls still resolve it.
    assert (await client.get(url, headers=alice.headers)).status_code == 200
    _, creds = await load_call_providers(server.services, uuid.UUID(alice.organization_id))
    assert creds.elevenlabs is not None and creds.elevenlabs.api_key == "xi-alice-secret-1234"
    _, bob_creds = await load_call_providers(server.services, uuid.UUID(bob.organization_id))
    assert bob_creds.elevenlabs is None


async def test_members_read_but_only_admins_write(client, make_user):
    owner = await make_user()
    member = await make_user()
    headers = await add_member(client, owner, member)
    url = "/api/v1/provider-credentials/cartesia"
    denied = await client.put(url, json={"api_key": "member-key-12345"}, headers=headers)
    assert denied.status_code == 403
    allowed = await client.put(url, json={"api_key": "owner-key-12345"}, headers=owner.headers)
    assert allowed.status_code == 200
    assert (await client.get(url, headers=headers)).json()["key_hint"] == "2345"
    assert (await client.delete(url, headers=headers)).status_code == 403
    settings = {"stt": {"provider": "deepgram"}}
    assert (
        await client.put("/api/v1/provider-settings", json=settings, headers=headers)
    ).status_code == 403


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/api/v1/provider-credentials/whisper", {"api_key": "k" * 20}, 404),
        ("/api/v1/provider-credentials/deepgram", {"api_key": "   "}, 422),
        ("/api/v1/provider-credentials/deepgram", {"api_key": "k" * 20, "base_url": "ftp://x"}, 422),
        ("/api/v1/provider-credentials/deepgram", {}, 422),
    ],
)
async def test_invalid_input_is_rejected(client, make_user, path, body, status):
    owner = await make_user()
    response = await client.put(path, json=body, headers=owner.headers)
    assert response.status_code == status, response.text


async def test_provider_settings_round_trip_and_feed_calls(client, make_user, server):
    owner = await make_user()
    default = await client.get("/api/v1/provider-settings", headers=owner.headers)
    assert default.status_code == 200
    assert default.json()["stt"]["provider"] == "offline"

    chosen = {
        "stt": {"provider": "deepgram-flux"},
        "tts": {"provider": "cartesia", "voice": "voice-1"},
        "fallback_tts": {"provider": "offline"},
    }
    put = await client.put("/api/v1/provider-settings", json=chosen, headers=owner.headers)
    assert put.status_code == 200, put.text
    got = (await client.get("/api/v1/provider-settings", headers=owner.headers)).json()
    assert got["stt"]["provider"] == "deepgram-flux" and got["tts"]["voice"] == "voice-1"

    bad = await client.put(
        "/api/v1/provider-settings", json={"stt": {"provider": "nope"}}, headers=owner.headers
    )
    assert bad.status_code == 422

    await client.put(
        "/api/v1/provider-credentials/deepgram",
        json={"api_key": "dg-key-for-calls-0001"},
        headers=owner.headers,
    )
    settings, creds = await load_call_providers(server.services, uuid.UUID(owner.organization_id))
    assert settings == ProviderSettings.model_validate(chosen)
    assert creds.deepgram is not None and creds.deepgram.source == "organization"
    assert creds.cartesia is None  # no key anywhere: the call's TTS runs offline


async def test_routes_are_in_the_openapi_document(client):
    doc = (await client.get("/openapi.json")).json()
    paths = doc["paths"]
    assert set(paths["/api/v1/provider-credentials/{provider}"]) >= {"get", "put", "delete"}
    assert "get" in paths["/api/v1/provider-credentials"]
    assert set(paths["/api/v1/provider-settings"]) >= {"get", "put"}


async def test_base_url_to_a_private_address_is_refused_when_private_urls_are_off(
    database_url, data_dir
):
    import httpx

    from tests.conftest import make_settings, run_server

    settings = make_settings(database_url, data_dir, allow_private_urls=False)
    async with run_server(settings) as live, httpx.AsyncClient(base_url=live.url) as http:
        signup = await http.post("/api/v1/auth/signup", json={
            "email": f"ssrf-{uuid.uuid4().hex[:8]}@example.com", "password": "long enough pw"})
        headers = {"Authorization": f"Bearer {signup.json()['access_token']}"}
        for url in ("http://127.0.0.1:6379", "ws://169.254.169.254/latest", "http://10.0.0.8"):
            r = await http.put("/api/v1/provider-credentials/deepgram",
                               json={"api_key": "dg-key", "base_url": url}, headers=headers)
            assert r.status_code == 422, (url, r.text)
            assert r.json()["error"]["details"][0]["pointer"] == "/body/base_url"
        listed = await http.get("/api/v1/provider-credentials", headers=headers)
        assert listed.json() == [] or all(c["base_url"] is None for c in listed.json())
        ok = await http.put("/api/v1/provider-credentials/deepgram",
                            json={"api_key": "dg-key"}, headers=headers)
        assert ok.status_code == 200, ok.text
