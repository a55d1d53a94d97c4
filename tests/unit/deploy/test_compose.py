"""deploy/compose.yaml, checked for structure (no Docker engine runs where the tests run, so
the stack itself is not started here): the services a fleet needs, dependencies that exist
and wait for health, images or a build that exists, the settings it sets, the load balancer's
upstreams and the ports it publishes."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from tests.unit.deploy.manifests import DEPLOY, NON_SETTINGS_ENV, ROOT, app_paths, setting_names

SWITCHBOARD = ("switchboard-1", "switchboard-2", "worker")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


@pytest.fixture(scope="module")
def services(compose) -> dict[str, Any]:
    return compose["services"]


def test_the_stack_has_every_piece_of_a_fleet(services):
    assert set(services) >= {"postgres", "redis", "minio", "minio-init", "switchboard-1",
                             "switchboard-2", "worker", "caddy", "coturn"}  # fmt: skip


def test_every_service_has_an_image_or_a_build_that_exists(services):
    for name, service in services.items():
        assert "image" in service or "build" in service, name
        if "build" in service:
            context = (DEPLOY / service["build"]["context"]).resolve()
            assert (context / service["build"].get("dockerfile", "Dockerfile")).is_file(), name
            assert context == ROOT
        assert ":" in service["image"] or "build" in service, f"{name}: pin an image tag"


def test_dependencies_exist_and_wait_for_health_or_completion(services):
    for name, service in services.items():
        for dependency, rule in (service.get("depends_on") or {}).items():
            assert dependency in services, f"{name} -> {dependency}"
            condition = rule["condition"]
            assert condition in ("service_healthy", "service_completed_successfully"), name
            if condition == "service_healthy":
                check = services[dependency].get("healthcheck", {})
                assert check.get("test") and not check.get("disable"), f"{dependency} has no healthcheck"
    for name in ("switchboard-1", "switchboard-2", "worker"):
        assert set(services[name]["depends_on"]) == {"postgres", "redis", "minio-init"}


def test_servers_are_healthy_only_when_ready(services):
    for name in ("switchboard-1", "switchboard-2"):
        test = " ".join(services[name]["healthcheck"]["test"])
        path = re.search(r"127\.0\.0\.1:8000(/[\w/]+)", test).group(1)
        assert path == "/health/ready" and path in app_paths()


def test_the_worker_runs_jobs_and_the_servers_do_not(services):
    assert services["worker"]["command"] == ["switchboard", "worker"]
    for name in ("switchboard-1", "switchboard-2"):
        assert services[name]["environment"]["JOBS_ENABLED"] == "false"
        assert "command" not in services[name]  # the image's CMD: switchboard serve


def test_instances_share_database_redis_keys_and_recordings(services):
    envs = [services[name]["environment"] for name in SWITCHBOARD]
    for key in ("DATABASE_URL", "REDIS_URL", "SECRET_KEYS", "JWT_PRIVATE_KEY", "RECORDINGS_URL",
                "S3_ENDPOINT_URL"):  # fmt: skip
        assert len({env[key] for env in envs}) == 1, key
    assert envs[0]["RECORDINGS_URL"].startswith("s3://switchboard-recordings")
    init = " ".join(services["minio-init"]["command"])
    assert "mb --ignore-existing local/switchboard-recordings" in init


def test_every_variable_set_on_switchboard_is_a_real_setting(services):
    known = setting_names() | NON_SETTINGS_ENV
    for name in SWITCHBOARD:
        unknown = set(services[name]["environment"]) - known
        assert not unknown, f"{name}: {unknown}"


def test_stop_grace_outlasts_the_drain(services):
    for name in SWITCHBOARD:
        service = services[name]
        grace = float(service["environment"]["SHUTDOWN_GRACE_SECONDS"])
        assert float(service["stop_grace_period"].rstrip("s")) > grace, name


def test_only_the_load_balancer_and_turn_are_published(services):
    published = {name for name, service in services.items() if service.get("ports")}
    assert published == {"caddy", "coturn"}


def test_the_load_balancer_sends_traffic_to_ready_instances():
    caddyfile = (DEPLOY / "Caddyfile").read_text()
    upstreams = re.search(r"reverse_proxy ([^{]+)\{", caddyfile).group(1).split()
    assert upstreams == ["switchboard-1:8000", "switchboard-2:8000"]
    assert "health_uri /health/ready" in caddyfile


def test_volumes_are_declared(compose, services):
    for service in services.values():
        for mount in service.get("volumes", []):
            source = mount.split(":")[0]
            if not source.startswith("."):
                assert source in compose["volumes"], source
            else:
                assert (DEPLOY / source).exists(), source


def test_the_dockerfile_installs_every_package_and_runs_unprivileged():
    dockerfile = (ROOT / "Dockerfile").read_text()
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    for package in project["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]:
        assert f"COPY {package} {package}" in dockerfile, package
    assert "COPY migrations migrations" in dockerfile
    assert "uv sync --frozen --no-dev" in dockerfile
    users = re.findall(r"^USER (\S+)", dockerfile, re.MULTILINE)
    assert users and users[-1] not in ("root", "0")
    assert 'CMD ["switchboard", "serve"]' in dockerfile
    assert "espeakng_loader" in dockerfile  # the offline TTS voice data is in the image
