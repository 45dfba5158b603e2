"""The big group's application: OBJECTS objects in three sync waves, and its second version.

Roles (wave -1), ConfigMaps (wave 0, two per index) and Services (wave 1), in files of 50.
The second version changes 1% of the objects (ConfigMaps' data) and removes 1% (Services):
a push of it is a changed sync with a prune, and a rollback to the first brings them back.
"""

from __future__ import annotations

import copy
from typing import Any

import yaml

from bench import workload
from shared.platform import config

PER_FILE = 50
WAVES = {"Role": "-1", "ConfigMap": "0", "Service": "1"}
EVERY = 25  # of each kind's indexes, one in EVERY changes (ConfigMaps) or goes (Services): 1% each


def _role(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": name},
        "rules": [
            {"apiGroups": [""], "resources": ["configmaps"], "resourceNames": [name], "verbs": ["get"]}
        ],
    }


def objects(count: int) -> list[dict[str, Any]]:
    """`count` objects: half ConfigMaps, a quarter Services, a quarter Roles, each in its wave."""
    out: list[dict[str, Any]] = []
    for i in range(count // 4 + 1):
        name = f"b-{i:05d}"
        out += [
            workload.configmap(name, greeting="hello"),
            workload.service(name),
            workload.configmap(f"{name}-extra", greeting="hi"),
            _role(name),
        ]
    out = out[:count]
    for obj in out:
        obj["metadata"]["annotations"] = {config.ANNOTATION_WAVE: WAVES[obj["kind"]]}
    return out


def _index(obj: dict[str, Any]) -> int:
    return int(obj["metadata"]["name"].split("-")[1])


def is_changed(obj: dict[str, Any]) -> bool:
    """A ConfigMap whose data the second version changes."""
    name = obj["metadata"]["name"]
    return obj["kind"] == "ConfigMap" and not name.endswith("-extra") and _index(obj) % EVERY == 0


def is_removed(obj: dict[str, Any]) -> bool:
    """A Service the second version no longer has (pruned by its sync)."""
    return obj["kind"] == "Service" and _index(obj) % EVERY == EVERY // 2


def second_version(objs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for obj in objs:
        if is_removed(obj):
            continue
        if is_changed(obj):
            obj = copy.deepcopy(obj)
            obj["data"] = {"greeting": "changed"}
        out.append(obj)
    return out


def files(objs: list[dict[str, Any]], second: bool = False) -> dict[str, str]:
    """The first version's objects in files of PER_FILE; `second`: the same files holding the
    second version (a push of it changes files in place, none is left behind)."""
    out = {}
    for k in range(0, len(objs), PER_FILE):
        part = objs[k : k + PER_FILE]
        out[f"app/part-{k // PER_FILE:04d}.yaml"] = yaml.safe_dump_all(
            second_version(part) if second else part
        )
    return out
