"""A small kustomize for the tests: renders ``deploy/k8s`` without the kustomize binary.

It supports exactly what the manifests use: ``resources`` (files and directories with a
kustomization), ``namespace``, ``images`` (``newName`` / ``newTag``) and ``patches`` given as
strategic-merge files (matched by kind and name; maps merge, lists of named items merge by
``name``, any other list is replaced, as kustomize does for the fields patched here). Anything
else in a kustomization is refused, so a new feature cannot be silently ignored.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

SUPPORTED = {"apiVersion", "kind", "resources", "namespace", "images", "patches"}
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition"}


def load_all(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def merge(base: Any, patch: Any) -> Any:
    if isinstance(base, dict) and isinstance(patch, dict):
        out = dict(base)
        for key, value in patch.items():
            out[key] = merge(base[key], value) if key in base else copy.deepcopy(value)
        return out
    if (isinstance(base, list) and isinstance(patch, list)
            and all(isinstance(i, dict) and "name" in i for i in base + patch)):  # fmt: skip
        out_list = [copy.deepcopy(i) for i in base]
        for item in patch:
            at = next((n for n, i in enumerate(out_list) if i["name"] == item["name"]), None)
            if at is None:
                out_list.append(copy.deepcopy(item))
            else:
                out_list[at] = merge(out_list[at], item)
        return out_list
    return copy.deepcopy(patch)


def _key(obj: dict[str, Any]) -> tuple[str, str]:
    return obj["kind"], obj["metadata"]["name"]


def _containers(obj: dict[str, Any]) -> list[dict[str, Any]]:
    spec = obj.get("spec", {}).get("template", {}).get("spec", {})
    return list(spec.get("containers", [])) + list(spec.get("initContainers", []))


def render(directory: Path) -> list[dict[str, Any]]:
    """The objects ``kustomize build directory`` would produce (order aside)."""
    config = yaml.safe_load((directory / "kustomization.yaml").read_text())
    unknown = set(config) - SUPPORTED
    assert not unknown, f"{directory}: kustomization fields this renderer does not do: {unknown}"
    objects: list[dict[str, Any]] = []
    for resource in config.get("resources", []):
        target = (directory / resource).resolve()
        objects += render(target) if target.is_dir() else load_all(target)
    by_key = {_key(o): o for o in objects}
    assert len(by_key) == len(objects), f"{directory}: duplicate objects"
    for entry in config.get("patches", []):
        assert set(entry) == {"path"}, f"{directory}: only strategic-merge patch files: {entry}"
        for patch in load_all(directory / entry["path"]):
            key = _key(patch)
            assert key in by_key, f"{directory}/{entry['path']}: patches nothing ({key})"
            by_key[key] = merge(by_key[key], patch)
    objects = list(by_key.values())
    for image in config.get("images", []):
        for obj in objects:
            for container in _containers(obj):
                name, _, tag = container["image"].partition(":")
                if name == image["name"]:
                    container["image"] = (f"{image.get('newName', name)}:"
                                          f"{image.get('newTag', tag or 'latest')}")  # fmt: skip
    if "namespace" in config:
        for obj in objects:
            if obj["kind"] not in CLUSTER_SCOPED:
                obj["metadata"]["namespace"] = config["namespace"]
    return objects
