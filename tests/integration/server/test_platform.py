"""HTTP conventions, health, metrics, docs, settings validation, migrations, CLI."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from pathlib import Path

import asyncpg
import pytest

from db.migrate import discover, migrate
from server.settings import SettingsError, load_settings


async def test_error_shape_validation_and_invalid_json(client):
    r = await client.post("/api/v1/auth/signup", json={"email": "not-an-email", "password": "x"})
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["code"] == "validation_error"
    pointers = {d["pointer"] for d in err["details"]}
    assert {"/body/email", "/body/password"} <= pointers
    assert all(set(d) == {"pointer", "code", "message"} for d in err["details"])

    r = await client.post("/api/v1/auth/login", content=b"{not json",
                          headers={"content-type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_json"

    r = await client.get("/api/v1/does-not-exist")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    r = await client.delete("/api/v1/auth/signup")
    assert r.status_code == 405 and r.json()["error"]["code"] == "method_not_allowed"


async def test_body_size_limit(client, server):
    limit = server.services.settings.max_body_bytes
    big = b'{"email": "' + b"a" * (limit + 10) + b'"}'
    r = await client.post("/api/v1/auth/login", content=big,
                          headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "payload_too_large"

    async def chunks():  # no content-length: enforced while streaming
        for _ in range(limit // 65536 + 2):
            yield b"x" * 65536

    r = await client.post("/api/v1/auth/login", content=chunks(),
                          headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert (await client.get("/health/live")).status_code == 200


async def test_health_metrics_request_id(client):
    ready = await client.get("/health/ready")
    assert ready.status_code == 200 and ready.json()["database"] == "ok"
    r = await client.get("/health/live", headers={"x-request-id": "abc-123"})
    assert r.headers["x-request-id"] == "abc-123"
    assert len((await client.get("/health/live")).headers["x-request-id"]) == 32
    metrics = await client.get("/metrics")
    assert metrics.status_code == 200
    assert "switchboard_http_requests_total" in metrics.text


async def test_openapi_document_and_docs_page(client):
    doc = (await client.get("/openapi.json")).json()
    assert doc["openapi"] == "3.1.0"
    signup = doc["paths"]["/api/v1/auth/signup"]["post"]
    ref = signup["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    schema = doc["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert {"email", "password"} <= set(schema["properties"])
    assert "422" in signup["responses"]
    assert doc["paths"]["/api/v1/api-keys/{key_id}"]["delete"]["security"] == [{"bearer": []}]
    # Every API route is documented with a summary.
    for path, ops in doc["paths"].items():
        for op in ops.values():
            assert op.get("summary"), path
    docs = await client.get("/docs")
    assert docs.status_code == 200 and "swagger-ui" in docs.text
    asset = await client.get("/static/vendor/swagger-ui/swagger-ui-bundle.js")
    assert asset.status_code == 200 and len(asset.content) > 100_000


def test_settings_validation_names_the_variable(monkeypatch):
    monkeypatch.setenv("PORT", "not-a-port")
    with pytest.raises(SettingsError, match="PORT"):
        load_settings()
    monkeypatch.setenv("PORT", "8000")
    monkeypatch.setenv("DATABASE_URL", "mysql://x")
    with pytest.raises(SettingsError, match="DATABASE_URL"):
        load_settings()
    monkeypatch.delenv("DATABASE_URL")
    monkeypatch.setenv("LOG_LEVEL", "loud")
    with pytest.raises(SettingsError, match="LOG_LEVEL"):
        load_settings()


def test_cli_reports_invalid_settings_without_traceback(tmp_path):
    env = dict(os.environ, PORT="99999", DATA_DIR=str(tmp_path))
    proc = subprocess.run([sys.executable, "-m", "server.cli", "migrate"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "PORT" in proc.stderr and "Traceback" not in proc.stderr


async def _fresh_database(database_url: str) -> str:
    name = f"sb_mig_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    from urllib.parse import urlsplit, urlunsplit
    return urlunsplit(urlsplit(database_url)._replace(path=f"/{name}"))


async def test_migrations_idempotent_and_safe_concurrently(database_url):
    url = await _fresh_database(database_url)
    conns = [await asyncpg.connect(url) for _ in range(2)]
    try:
        results = await asyncio.gather(migrate(conns[0]), migrate(conns[1]))
        expected = [m.name for m in discover(Path("migrations"))]
        # Exactly one runner applied each migration; the other found it done.
        assert sorted(results[0] + results[1]) == sorted(expected)
        assert await migrate(conns[0]) == []
        rows = await conns[0].fetch("SELECT name FROM schema_migrations ORDER BY version")
        assert [r["name"] for r in rows] == expected
    finally:
        for c in conns:
            await c.close()


async def test_failed_migration_rolls_back(database_url, tmp_path):
    url = await _fresh_database(database_url)
    (tmp_path / "0001_ok.sql").write_text("CREATE TABLE a (id int);")
    (tmp_path / "0002_bad.sql").write_text("CREATE TABLE b (id int); SELECT nope_fn();")
    conn = await asyncpg.connect(url)
    try:
        with pytest.raises(asyncpg.PostgresError):
            await migrate(conn, tmp_path)
        assert await conn.fetchval("SELECT to_regclass('b')") is None
        assert await conn.fetchval("SELECT count(*) FROM schema_migrations") == 1
    finally:
        await conn.close()


async def test_create_org_cli_key_authenticates(database_url, data_dir, client):
    env = dict(os.environ, DATABASE_URL=database_url, DATA_DIR=str(data_dir))
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "server.cli", "create-org", "--name", "CLI Co",
        "--email", f"cli-{uuid.uuid4().hex[:6]}@example.com",
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == 0, stderr.decode()
    key = next(line.split()[-1] for line in stdout.decode().splitlines() if "api key" in line)
    r = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 200, r.text
    assert r.json()["role"] == "admin"


def test_cli_help_for_every_command(capsys):
    from server.cli import build_parser, main

    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices  # argparse keeps them here
    assert {"serve", "migrate", "create-org"} <= set(commands)
    for args in ([], *([name] for name in commands)):
        with pytest.raises(SystemExit) as exit_info:
            main([*args, "--help"])
        assert exit_info.value.code == 0
        assert "usage: switchboard" in capsys.readouterr().out


async def test_empty_body_allowed_only_when_every_field_is_optional(client, make_user):
    user = await make_user()
    # PATCH /organization has only optional fields: no body = no change.
    r = await client.patch("/api/v1/organization", headers=user.headers)
    assert r.status_code == 200, r.text
    # Signup needs email and password: no body is a validation error naming the body.
    r = await client.post("/api/v1/auth/signup")
    assert r.status_code == 422
    assert r.json()["error"]["details"] == [
        {"pointer": "/body", "code": "missing", "message": "request body is required"}]
