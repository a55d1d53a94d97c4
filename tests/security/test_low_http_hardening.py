"""Low: /metrics was public, responses had no security headers, and PUBLIC_URL was optional in
production (callback URLs then come from the Host header). Now METRICS_TOKEN guards /metrics
(and production refuses to serve it without one), every response carries CSP,
frame-ancestors 'none', nosniff and Referrer-Policy (HSTS when PUBLIC_URL is https), and
production refuses to start without PUBLIC_URL."""

from __future__ import annotations

import pytest

from server.settings import SettingsError, load_settings
from tests.security.identity_servers import serve

pytestmark = pytest.mark.integration


async def test_metrics_need_the_token_when_set(database_url, data_dir):
    async with serve(database_url, data_dir, metrics_token="m-secret-token") as (_, http):
        assert (await http.get("/metrics")).status_code == 401
        wrong = await http.get("/metrics", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        ok = await http.get("/metrics", headers={"Authorization": "Bearer m-secret-token"})
        assert ok.status_code == 200 and "switchboard_http_requests_total" in ok.text


async def test_production_does_not_serve_metrics_without_a_token(database_url, data_dir):
    async with serve(database_url, data_dir, env="production",
                     public_url="https://voice.example.com") as (_, http):
        r = await http.get("/metrics")
        assert r.status_code == 404 and "switchboard_" not in r.text
        # Behind TLS: HSTS.
        assert "max-age" in r.headers["strict-transport-security"]


async def test_security_headers_on_pages_and_api(client):
    for path in ("/docs", "/talk", "/test", "/api/v1/auth/me", "/health/live", "/static/docs.js"):
        r = await client.get(path)
        csp = r.headers.get("content-security-policy", "")
        assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp, path
        assert r.headers["x-content-type-options"] == "nosniff", path
        assert r.headers["referrer-policy"] == "no-referrer", path
        assert "strict-transport-security" not in r.headers  # plain-HTTP test server


def test_production_refuses_to_start_without_public_url():
    with pytest.raises(SettingsError, match="PUBLIC_URL"):
        load_settings(_env_file=None, env="production")
    assert load_settings(_env_file=None, env="production",
                         public_url="https://voice.example.com").public_url is not None
