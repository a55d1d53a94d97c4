"""Shared by the deploy tests: paths, the settings a manifest may set, the app's routes."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
KUBERNETES_VERSION = "1.32.0"  # the oldest Kubernetes these manifests are checked against
# Read by boto3 for the recordings bucket (the standard AWS credential chain), not Settings.
NON_SETTINGS_ENV = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"}


def setting_names() -> set[str]:
    from server.settings import Settings

    return {name.upper() for name in Settings.model_fields}


def app_paths() -> set[str]:
    from server.routes import all_routers

    paths: set[str] = set()
    for router in all_routers():
        for route in router.routes():
            path = getattr(route, "path", None)
            if path:
                paths.add(path)
    return paths
