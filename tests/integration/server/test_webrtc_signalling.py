"""WebRTC signalling extras: ICE servers (TURN REST credentials) and /talk (now the console's Test page)."""

from __future__ import annotations

import time

from server.calls.ice import ice_servers, turn_rest_credentials
from server.settings import Settings


def test_turn_rest_credentials_match_coturn_scheme():
    # Expected value computed independently:
    #   printf '%s' "1700003600:alice" | openssl dgst -sha1 -hmac north-secret -binary | base64
    username, credential = turn_rest_credentials("north-secret", "alice", 3600, now=1_700_000_000)
    assert username == "1700003600:alice"
    assert credential == "Ji4axghh2/aljHmsPgH9mtDGVLw="


def test_ice_servers_from_settings():
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        webrtc_stun_urls="stun:stun.example.org:3478",
        webrtc_turn_urls="turn:turn.example.org:3478?transport=udp, turns:turn.example.org:5349",
        webrtc_turn_secret="s3cret",
        webrtc_turn_ttl_seconds=600,
    )
    stun, turn = ice_servers(settings, "user-1")
    assert stun.urls == ["stun:stun.example.org:3478"] and stun.username is None
    assert turn.urls == ["turn:turn.example.org:3478?transport=udp", "turns:turn.example.org:5349"]
    expiry, user = turn.username.split(":")
    assert user == "user-1"
    assert 0 < int(expiry) - time.time() <= 600
    assert ice_servers(Settings(_env_file=None), "u") == []  # type: ignore[call-arg]


async def test_ice_servers_route_and_talk_page(client, make_user):
    user = await make_user()
    assert (await client.get("/api/v1/webrtc/ice-servers")).status_code == 401
    response = await client.get("/api/v1/webrtc/ice-servers", headers=user.headers)
    assert response.status_code == 200
    assert response.json() == {"ice_servers": []}  # the test server configures none

    # /talk is the console's Test page now (the old URL keeps working, query included)
    page = await client.get("/talk", params={"workflow": "w1"}, follow_redirects=False)
    assert page.status_code == 308 and page.headers["location"] == "/test?workflow=w1"
    followed = await client.get("/talk", follow_redirects=True)
    assert followed.status_code == 200 and 'id="app"' in followed.text
    assert (await client.get("/static/talk.js")).status_code == 404
