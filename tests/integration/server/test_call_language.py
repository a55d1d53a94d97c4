"""A call's own language over HTTP: ``language`` on an outbound call (and a WebRTC offer) is
checked like the workflow's (an unknown tag, or a speech provider the call would run on
that cannot hear or speak it: 422 at /body/language naming the provider, nothing dialed or
created) and recorded on the call row (the workflow's language when none is given)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.security.twilio_env import WORKFLOW, PhoneEnv, phone_env
from tests.security.webrtc_env import audio_offer, call_rows


@pytest.fixture(scope="module")
async def env(database_url: str, data_dir: Path) -> AsyncIterator[PhoneEnv]:
    async with phone_env(database_url, data_dir) as e:
        yield e


async def _dial(env: PhoneEnv, workflow_id: str, **extra: Any) -> Any:
    return await env.http.post("/api/v1/calls", headers=env.headers, json={
        "to": "+14155550123", "workflow_id": workflow_id, **extra})  # fmt: skip


def _refusal(response: Any) -> str:
    assert response.status_code == 422, response.text
    [detail] = response.json()["error"]["details"]
    assert detail["pointer"] == "/body/language"
    return f"{detail['code']}: {detail['message']}"


async def _published(env: PhoneEnv, settings: dict[str, Any]) -> str:
    wf = await env.http.post("/api/v1/workflows", headers=env.headers,
                             json={"name": "lang", "definition": {**WORKFLOW, "settings": settings}})
    assert wf.status_code == 201, wf.text
    published = await env.http.post(f"/api/v1/workflows/{wf.json()['id']}/publish",
                                     headers=env.headers, json={})
    assert published.status_code == 201, published.text
    return str(wf.json()["id"])


async def test_outbound_language_is_checked_against_the_providers_and_recorded(
    env: PhoneEnv,
) -> None:
    dialed = len(env.fake.calls)
    assert "unsupported language 'xx-nope'" in _refusal(
        await _dial(env, env.workflow_id, language="xx-nope"))
    # no keys: the call would run on the offline engines, whose recogniser is English only
    refused = _refusal(await _dial(env, env.workflow_id, language="fr-FR"))
    assert refused.startswith("unsupported_language") and "PocketSphinx" in refused
    assert len(env.fake.calls) == dialed  # nothing was dialed

    british = await _dial(env, env.workflow_id, language="en-GB")
    assert british.status_code == 201, british.text
    default = await _dial(env, env.workflow_id)
    for placed, language in ((british, "en-GB"), (default, "en-US")):
        call = await env.http.get(f"/api/v1/calls/{placed.json()['id']}", headers=env.headers)
        assert call.json()["language"] == language
        assert (await env.call(placed.json()["id"]))["language"] == language


async def test_with_deepgram_the_same_workflow_takes_spanish_but_not_portuguese(
    env: PhoneEnv,
) -> None:
    stored = await env.http.put("/api/v1/provider-credentials/deepgram", headers=env.headers,
                                json={"api_key": "dg-key", "base_url": "ws://127.0.0.1:9"})
    assert stored.status_code in (200, 201), stored.text
    workflow_id = await _published(env, {"stt": {"provider": "deepgram"},
                                         "tts": {"provider": "deepgram"}})
    spanish = await _dial(env, workflow_id, language="es-MX")
    assert spanish.status_code == 201, spanish.text
    assert (await env.call(spanish.json()["id"]))["language"] == "es-MX"
    # Aura has no Portuguese voice (Nova-3 would hear it)
    assert "deepgram tts does not support language 'pt-BR'" in _refusal(
        await _dial(env, workflow_id, language="pt-BR"))
    # the workflow's English voice cannot speak Spanish
    english_voice = await _published(env, {"stt": {"provider": "deepgram"},
                                           "tts": {"provider": "deepgram",
                                                   "voice": "aura-2-helena-en"}})
    assert "aura-2-helena-en" in _refusal(await _dial(env, english_voice, language="es"))


async def test_a_webrtc_offer_in_a_language_the_call_cannot_hear_creates_nothing(
    env: PhoneEnv,
) -> None:
    headers, org = await _offline_tenant(env)
    workflow = await env.http.post("/api/v1/workflows", headers=headers,
                                   json={"name": "w", "definition": WORKFLOW})
    workflow_id = workflow.json()["id"]
    assert (await env.http.post(f"/api/v1/workflows/{workflow_id}/publish", headers=headers,
                                json={})).status_code == 201
    caller, offer = await audio_offer()
    try:
        for language, expected in (("klingon", "unsupported language"),
                                   ("de-DE", "PocketSphinx")):
            r = await env.http.post("/api/v1/webrtc/offer", headers=headers, json={
                **offer, "workflow_id": workflow_id, "language": language})  # fmt: skip
            assert expected in _refusal(r)
    finally:
        await caller.close()
    assert await call_rows(env.server, org) == []


async def _offline_tenant(env: PhoneEnv) -> tuple[dict[str, str], str]:
    email = f"lang-{uuid.uuid4().hex[:8]}@example.com"
    r = await env.http.post("/api/v1/auth/signup",
                            json={"email": email, "password": "correct horse battery"})
    assert r.status_code == 201, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}, r.json()["organization_id"]


async def test_publish_checks_the_providers_the_workflow_leaves_to_the_organization(
    env: PhoneEnv,
) -> None:
    headers, _ = await _offline_tenant(env)
    french = {**WORKFLOW, "settings": {"language": "fr-FR"}}
    wf = await env.http.post("/api/v1/workflows", headers=headers,
                             json={"name": "fr", "definition": french})
    workflow_id = wf.json()["id"]
    # valid as a definition (it names no provider) ...
    valid = await env.http.post(f"/api/v1/workflows/{workflow_id}/validate", headers=headers)
    assert valid.json()["valid"] is True
    # ... but this organization has no keys: its calls would be heard by PocketSphinx
    refused = await env.http.post(f"/api/v1/workflows/{workflow_id}/publish", headers=headers,
                                  json={})
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "workflow_invalid"
    [problem] = refused.json()["error"]["details"]
    assert (problem["pointer"], problem["code"]) == ("/settings/language", "unsupported_language")
    assert "PocketSphinx" in problem["message"]
    # with a Deepgram key and Deepgram chosen for speech, French is heard and spoken
    stored = await env.http.put("/api/v1/provider-credentials/deepgram", headers=headers,
                                json={"api_key": "dg-key", "base_url": "ws://127.0.0.1:9"})
    assert stored.status_code in (200, 201), stored.text
    chosen = await env.http.put("/api/v1/provider-settings", headers=headers, json={
        "stt": {"provider": "deepgram"}, "tts": {"provider": "deepgram"}})  # fmt: skip
    assert chosen.status_code == 200, chosen.text
    published = await env.http.post(f"/api/v1/workflows/{workflow_id}/publish",
                                    headers=headers, json={})
    assert published.status_code == 201, published.text
